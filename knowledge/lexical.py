"""BM25 over the knowledge passages (bm25s), with tokens that work for
English (lower-cased, stop words out, Snowball-stemmed) and Chinese (jieba
search-mode segmentation, so 退货政策 also matches 退货)."""

from __future__ import annotations

import logging
import re
from collections import Counter

import numpy as np

STOP_WORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
do does did doing have has had having i me my we our you your he she it its they them their this that these those
what which who whom how when where why can could would should will shall may might must there here then than so
about into over under up down out off again very just also any some such no not only own same too s t don
please hi hello thanks thank""".split())
_WORD = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_STOP = frozenset("的 了 吗 呢 吧 啊 是 我 你 我们 您 在 有 和 与 就 都 也 还 要 能 可以 "
                      "怎么 什么 如何 请问 请".split())


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


class Tokenizer:
    def __init__(self):
        self._stem = _stemmer().stemWord

    def __call__(self, text: str) -> list[str]:
        text = text.lower()
        tokens = [self._stem(w) for w in _WORD.findall(_CJK.sub(" ", text)) if w not in STOP_WORDS]
        runs = _CJK.findall(text)
        if runs:
            import jieba  # loaded on the first Chinese text only: its dictionary takes a second

            for run in runs:
                tokens += [w for w in jieba.lcut_for_search(run) if w not in _CJK_STOP]
        return tokens


class Bm25Index:
    def __init__(self, texts: list[str]):
        import bm25s

        self.tokenize = Tokenizer()
        self._bm25 = bm25s.BM25()
        corpus = [self.tokenize(t) or ["\u2205"] for t in texts]  # an empty passage still holds its place
        self._bm25.index(corpus, show_progress=False)
        self._size = len(texts)
        self.doc_tokens = [frozenset(tokens) for tokens in corpus]  # for answerability's coverage
        self.document_frequency = Counter(t for tokens in self.doc_tokens for t in tokens)

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per passage (0 where no query word occurs)."""
        tokens = [t for t in self.tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


logging.getLogger("jieba").setLevel(logging.WARNING)  # jieba prints its dictionary loading at INFO
