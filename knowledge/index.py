"""A dense embedding index over FAQ entries, cached under the data directory.

Each entry is embedded twice, as its question and as question + answer, and a
query scores an entry by the better of the two: short shopper questions match
the question, questions about a detail match the answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.faq import FaqEntry
from lm.embeddings import Encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    entry: FaqEntry
    score: float


class FaqIndex:
    def __init__(self, entries: list[FaqEntry], encoder: Encoder, vectors: np.ndarray):
        self.entries = entries
        self.encoder = encoder
        self._vectors = vectors  # (2 * n, dim): questions, then question + answer

    @classmethod
    def build(cls, entries: list[FaqEntry], encoder: Encoder, cache_dir: Path | None = None) -> "FaqIndex":
        texts = [e.question for e in entries] + [f"{e.question} {e.answer}" for e in entries]
        key = hashlib.sha256(json.dumps([encoder.id, texts]).encode()).hexdigest()[:16]
        cached = cache_dir / f"faq-{key}.npy" if cache_dir else None
        if cached and cached.exists():
            vectors = np.load(cached)
        else:
            log.info("embedding %d FAQ entries", len(entries))
            vectors = encoder.encode(texts)
            if cached:
                cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(".tmp.npy")
                np.save(tmp, vectors)
                tmp.replace(cached)  # atomic: a reader never sees half a file
        return cls(entries, encoder, vectors)

    def search(self, query: str, top_k: int = 3) -> list[Hit]:
        """Blocking (runs the encoder): call it from a worker thread."""
        q = self.encoder.encode([query])[0]
        sims = self._vectors @ q
        n = len(self.entries)
        per_entry = np.maximum(sims[:n], sims[n:])
        order = np.argsort(-per_entry)[:top_k]
        return [Hit(self.entries[i], float(per_entry[i])) for i in order]
