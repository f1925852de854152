"""Hybrid retrieval over the knowledge passages.

Three signals score every passage for a query:
- BM25 on stemmed English words and jieba-segmented Chinese words (exact
  terms: product names, "PayPal", "退货");
- MiniLM embeddings (English paraphrases), the better of the passage's title
  alone and title + text: short questions match the title, questions about a
  detail match the text;
- multilingual-e5 embeddings (Chinese, and Chinese questions against English
  passages), the same way.
Each signal is rescaled to [0, 1] over this query's candidates and the
weighted sum ranks them; the weights were chosen on the benchmarks in
bench/kb.py (see README). Passage vectors are cached under the data
directory by text hash, so re-ingesting a changed file embeds only what is new.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.documents import Passage
from knowledge.lexical import Bm25Index
from lm.embeddings import get_encoder
from lm.language import has_chinese

log = logging.getLogger(__name__)

ENGLISH_ENCODER = "packaged:all-MiniLM-L6-v2"
MULTILINGUAL_ENCODER = "packaged:multilingual-e5-small"


@dataclass(frozen=True)
class Weights:
    bm25: float
    english: float
    multilingual: float


# Chosen on bench/kb.py (StackFAQ and the e-commerce FAQ paraphrases).
ENGLISH_QUERY = Weights(bm25=0.1, english=0.7, multilingual=0.2)
CHINESE_QUERY = Weights(bm25=0.2, english=0.0, multilingual=0.8)
# Chinese with English words in it ("我想return一个item"): MiniLM reads the English words.
MIXED_QUERY = Weights(bm25=0.2, english=0.3, multilingual=0.5)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused, 0..1
    bm25: float  # raw signals, for abstention and debugging
    english: float
    multilingual: float  # on the store's own words (not a translated title)
    index: int  # the passage's position in the retriever


class VectorCache:
    """Passage vectors by (encoder, text hash), in one .npz per encoder.
    Embed every view first, then `save()` once."""

    def __init__(self, directory: Path | None, encoder_id: str):
        self.path = (Path(directory) / f"vectors-{hashlib.sha1(encoder_id.encode()).hexdigest()[:12]}.npz"
                     if directory else None)
        self._vectors: dict[str, np.ndarray] = {}
        self._used: set[str] = set()  # keys asked for since loading: the store's texts
        self._changed = False
        if self.path and self.path.exists():
            with np.load(self.path) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"]))

    @staticmethod
    def key(text: str, passage: bool) -> str:
        return hashlib.sha1(f"{int(passage)}:{text}".encode()).hexdigest()

    def embed(self, encoder, texts: list[str], passage: bool, progress: bool) -> np.ndarray:
        keys = [self.key(t, passage) for t in texts]
        self._used.update(keys)
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._vectors}.items())
        if missing:
            vectors = encoder.encode([t for _, t in missing], progress=progress, passage=passage)
            self._vectors.update(zip((k for k, _ in missing), vectors))
            self._changed = True
        if not texts:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        return np.vstack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache if anything was embedded."""
        if self.path is None or not self._changed:
            return
        # Vectors of texts no longer in the store are dropped only when the
        # cache grows well beyond the store, so switching back and forth is cheap.
        if len(self._vectors) > 2 * len(self._used) + 1000:
            self._vectors = {k: v for k, v in self._vectors.items() if k in self._used}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp.npz")
        keys = list(self._vectors)
        np.savez(tmp, keys=np.array(keys), vectors=np.vstack([self._vectors[k] for k in keys]))
        tmp.replace(self.path)
        self._changed = False


class DenseSignal:
    """Cosine similarity of a query with a passage's title, and with its
    title + text (and with a translated title, where there is one); the best
    of them counts."""

    def __init__(self, encoder, passages: list[Passage], cache_dir: Path | None, progress: bool,
                 other_titles: list[str] | None = None):
        self.encoder = encoder
        cache = VectorCache(cache_dir, encoder.id)
        titles = [p.title or p.text for p in passages]
        self._views = [cache.embed(encoder, titles, passage=False, progress=progress),
                       cache.embed(encoder, [f"{p.title}\n{p.text}".strip() for p in passages], passage=True,
                                   progress=progress)]
        if other_titles is not None:
            self._views.append(cache.embed(encoder, [o or t for o, t in zip(other_titles, titles)], passage=False,
                                           progress=progress))
        cache.save()

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(best over all views, best over the store's own words): a
        translated title ranks passages, but only the store's own words
        count as evidence for answering (the abstention threshold)."""
        q = self.encoder.encode([query])[0]
        views = [view @ q for view in self._views]
        own = np.maximum(views[0], views[1])
        return (np.maximum(own, views[2]) if len(views) > 2 else own), own


_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_MIN_GROUP = 3  # passages a language needs before its scores are aligned with the other's


def _transfer(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`values` moved onto `reference`'s mean and standard deviation."""
    spread = float(values.std()) or 1.0
    return ((values - values.mean()) / spread * float(reference.std()) + float(reference.mean())).astype(np.float32)


def _rescale(x: np.ndarray) -> np.ndarray:
    """To [0, 1] over this query's passages (top = 1), so signals with
    different ranges can be added."""
    low, high = float(x.min()), float(x.max())
    return (x - low) / (high - low) if high > low else np.zeros_like(x)


class EmptyRetriever:
    """The knowledge of a store that has none yet (a Rasa project without a knowledge/ folder): no
    passages, so every question gets "I don't know" and the offer of a person."""

    passages: list[Passage] = []

    def search(self, query: str, top_k: int = 5, weights: Weights | None = None) -> list[Hit]:
        return []


class Retriever:
    def __init__(self, passages: list[Passage], cache_dir: Path | None = None, progress: bool = False,
                 english_encoder: str = ENGLISH_ENCODER, multilingual_encoder: str | None = MULTILINGUAL_ENCODER,
                 chinese_titles: list[str | None] | None = None):
        """`chinese_titles`: per passage, a Chinese version of its title (or
        None), matched by the multilingual encoder (knowledge/translation.py)."""
        if not passages:
            raise ValueError("the knowledge store is empty: ingest some knowledge first")
        self.passages = passages
        self._chinese_passages = np.array([has_chinese(f"{p.title} {p.text}") for p in passages])
        self.bm25 = Bm25Index([f"{p.title}\n{p.text}" for p in passages])
        self.english = DenseSignal(get_encoder(english_encoder), passages, cache_dir, progress)
        self.multilingual = (DenseSignal(get_encoder(multilingual_encoder), passages, cache_dir, progress,
                                         chinese_titles) if multilingual_encoder else None)

    def signals(self, query: str) -> dict[str, np.ndarray]:
        """Blocking (runs the encoders): call it from a worker thread."""
        chinese = has_chinese(query)
        latin = " ".join(_LATIN_WORD.findall(query)) if chinese else query
        n = len(self.passages)
        zeros = np.zeros(n, np.float32)
        multilingual = self.multilingual.scores(query) if self.multilingual else (zeros, zeros)
        signals = {
            "bm25": self.bm25.scores(query),
            # MiniLM knows no Chinese: a Chinese query's English words ("shipping到Canada") are all it reads
            "english": self.english.scores(latin)[0] if latin else np.zeros(n, np.float32),
            "multilingual": multilingual[0],
            "multilingual_own": multilingual[1],
        }
        return self._align_languages(signals, chinese) if self.multilingual else signals

    def _align_languages(self, signals: dict[str, np.ndarray], chinese_query: bool) -> dict[str, np.ndarray]:
        """Put passages in the two languages on one scale for this query.

        e5 scores a question higher against passages in its own language
        (a Chinese question about free shipping matched a Chinese passage on
        birthday coupons over the English one on shipping costs), and MiniLM
        cannot read Chinese passages at all. So, per query, the e5 scores of
        the smaller language group are mapped onto the larger group's
        distribution (same mean and spread), and an English question's MiniLM
        score for a Chinese passage is its e5 score mapped onto MiniLM's
        distribution over the English passages. Applied only when each
        language has at least `_MIN_GROUP` passages."""
        zh = self._chinese_passages
        if min(int(zh.sum()), int((~zh).sum())) < _MIN_GROUP:
            return signals
        out = dict(signals)
        minority = zh if zh.sum() <= (~zh).sum() else ~zh
        for key in ("multilingual", "multilingual_own"):
            out[key] = signals[key].copy()
            out[key][minority] = _transfer(signals[key][minority], signals[key][~minority])
        if not chinese_query:
            out["english"] = signals["english"].copy()
            out["english"][zh] = _transfer(signals["multilingual_own"][zh], signals["english"][~zh])
        return out

    def search(self, query: str, top_k: int = 5, weights: Weights | None = None) -> list[Hit]:
        """The top passages for `query`, best first. Blocking: use a worker thread."""
        if not query.strip():
            return []
        return self.rank(query, self.signals(query), top_k, weights)

    def fuse(self, query: str, signals: dict[str, np.ndarray], weights: Weights | None = None,
             exclude: frozenset[int] = frozenset()) -> np.ndarray:
        """One fused score per passage (0..1) from the signals of `query`;
        `exclude`d passages (positions) score as the worst."""
        if weights is None:
            chinese = has_chinese(query)
            mixed = chinese and _LATIN_WORD.search(query)
            weights = MIXED_QUERY if mixed else CHINESE_QUERY if chinese else ENGLISH_QUERY
        w = weights
        if self.multilingual is None and not has_chinese(query):
            w = Weights(w.bm25, w.english + w.multilingual, 0.0)
        s = signals
        if exclude:
            s = {k: v.copy() for k, v in signals.items()}
            for v in s.values():
                v[list(exclude)] = v.min()
        return (w.bm25 * _rescale(s["bm25"]) + w.english * _rescale(s["english"])
                + w.multilingual * _rescale(s["multilingual"]))

    def rank(self, query: str, signals: dict[str, np.ndarray], top_k: int = 5,
             weights: Weights | None = None, exclude: frozenset[int] = frozenset()) -> list[Hit]:
        """Fuse the signals of `query` into the top passages; `exclude`d
        passages (positions) are left out, as if not in the knowledge."""
        return self.top(self.fuse(query, signals, weights, exclude), signals, top_k, exclude)

    def top(self, fused: np.ndarray, signals: dict[str, np.ndarray], top_k: int = 5,
            exclude: frozenset[int] = frozenset()) -> list[Hit]:
        """The `top_k` passages by `fused` score (from `fuse`), best first, without the `exclude`d ones."""
        order = [i for i in np.argsort(-fused, kind="stable") if i not in exclude][:top_k]
        own = signals.get("multilingual_own", signals["multilingual"])
        return [Hit(self.passages[i], float(fused[i]), float(signals["bm25"][i]), float(signals["english"][i]),
                    float(own[i]), int(i)) for i in order]
