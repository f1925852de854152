"""Chat generation with a real packaged model (SmolLM2-135M, small enough for tests)."""

import asyncio

import pytest

from lm.generation import GenerationTimeout, GeneratorBusy, LlamaCppGenerator
from lm.models import ModelNotAvailable, resolve_gguf

pytestmark = pytest.mark.integration
CHAT = [{"role": "user", "content": "Say hello to a customer in one short sentence."}]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    path = resolve_gguf("packaged:smollm2-135m", tmp_path_factory.mktemp("models"))
    gen = LlamaCppGenerator(path, threads=2, max_waiting=2)
    yield gen
    gen.close()


async def test_generates_text(generator):
    text = await generator.generate(CHAT, max_tokens=24, timeout=60)
    assert isinstance(text, str) and text.strip()


async def test_a_deadline_stops_generation_and_the_model_stays_usable(generator):
    with pytest.raises(GenerationTimeout):
        await generator.generate(CHAT, max_tokens=400, timeout=0.05)
    assert (await generator.generate(CHAT, max_tokens=8, timeout=60)).strip()


async def test_a_full_queue_is_refused_at_once(generator):
    slow = [asyncio.create_task(generator.generate(CHAT, max_tokens=64, timeout=60)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(GeneratorBusy):
        await generator.generate(CHAT, max_tokens=8, timeout=60)
    await asyncio.gather(*slow)


def test_unknown_specs_are_clear_errors(tmp_path):
    with pytest.raises(ModelNotAvailable, match="unknown packaged model"):
        resolve_gguf("packaged:gpt-9", tmp_path)
    with pytest.raises(ModelNotAvailable, match="no model file"):
        resolve_gguf(str(tmp_path / "missing.gguf"), tmp_path)
    assert resolve_gguf("someone/some-repo/model.gguf", tmp_path) == "hub:someone/some-repo/model.gguf"
