"""Chat generation with transformers: any causal LM directory or hub id.

Spec: `transformers:PATH_OR_HUB_ID`, or `transformers:DIR#FILE.gguf` for a
GGUF file (transformers dequantises it to float32: fine for checking a
model, slow for serving; llama.cpp is the engine for GGUF). Greedy decoding,
streamed piece by piece from the worker thread, stopped at the deadline.
"""

from __future__ import annotations

import os

from lm.generation import ThreadedGenerator

SPEC_PREFIX = "transformers:"


class TransformersGenerator(ThreadedGenerator):
    def __init__(self, spec: str, threads: int = 2, max_waiting: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        super().__init__(max_waiting)
        reference = spec.removeprefix(SPEC_PREFIX)
        path, _, gguf_file = reference.partition("#")
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        path = os.path.expanduser(path)
        self._tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        self._model = AutoModelForCausalLM.from_pretrained(path, **kwargs).eval()
        torch.set_num_threads(threads)
        self.name = reference

    def _produce(self, messages: list[dict], max_tokens: int, emit, stop) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

        class Emit(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    emit(text)

        class Deadline(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return stop()

        inputs = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                     return_dict=True)
        with torch.inference_mode():
            self._model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False,
                                 streamer=Emit(self._tokenizer, skip_prompt=True, skip_special_tokens=True),
                                 stopping_criteria=StoppingCriteriaList([Deadline()]),
                                 pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id)
