"""Does the best passage answer the question? Deciding when to abstain.

A fixed similarity threshold fitted to one store does not carry over to the
next: a store with many near-identical entries needs a higher bar than one
with few. So abstention is a small logistic model over signals that keep
their meaning from store to store:

- `english`, `multilingual`: cosine similarity of the question with the
  passage's own words (MiniLM; multilingual-e5), the best of title and
  title + text;
- `coverage`: the share of the question's words (IDF-weighted, stemmed
  English and jieba Chinese words) that the passage contains;
- `unknown`: the IDF-weighted share of the question's words that occur
  nowhere in the store's knowledge ("bereavement discount" in a store that
  never mentions bereavement);
- `same_language`: 1 when the passage is in the question's language (kept
  at weight 0: fitted, it did not carry over to other stores, and neither did
  raising cross-lingual e5 similarities by 0.07, the gap between the two
  thresholds fitted before, 0.885 and 0.815);
- `margin`: how far the best passage is ahead of the second (fused score,
  rescaled per query; measured better for Chinese questions than the raw
  cosine margin, bench/answerability.py).

The weights (`answerability.json`, a few numbers) were fitted by
bench/answerability.py on public and our own FAQ data that none of the
faithfulness benchmarks share: StackFAQ paraphrases and bench/ecommerce_
queries.jsonl, where each answerable question also becomes a near-miss
unanswerable one by leaving its own entry out of the knowledge
(leave-one-out), plus our hand-written unanswerable questions. One model for
English questions and one for Chinese.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = ("english", "multilingual", "coverage", "unknown", "margin", "same_language")
MODEL_FILE = Path(__file__).with_name("answerability.json")


def question_features(tokens: list[str], index: int, fused: np.ndarray, signals: dict[str, np.ndarray],
                      doc_tokens: list[frozenset], document_frequency: dict[str, int], size: int,
                      excluded: frozenset[int] = frozenset(), same_language: bool = True) -> np.ndarray:
    """The features of passage `index` as the answer to a question with BM25
    `tokens`, in FEATURES order. `excluded` passages count as absent from the
    knowledge (for leave-one-out training); `same_language`: the passage is
    in the question's language."""
    def idf(token: str) -> float:
        df = document_frequency.get(token, 0) - sum(token in doc_tokens[i] for i in excluded)
        return math.log(1 + size / (1 + max(df, 0)))

    unique = list(dict.fromkeys(tokens))
    weights = np.array([idf(t) for t in unique]) if unique else np.zeros(0)
    total = float(weights.sum()) or 1.0
    covered = sum(w for t, w in zip(unique, weights) if t in doc_tokens[index])
    unknown = sum(w for t, w in zip(unique, weights)
                  if document_frequency.get(t, 0) - sum(t in doc_tokens[i] for i in excluded) <= 0)
    others = np.delete(fused, [index, *excluded]) if len(fused) > 1 else np.zeros(1)
    second = float(others.max()) if len(others) else 0.0
    return np.array([signals["english"][index], signals["multilingual_own"][index],
                     covered / total if unique else 0.0, unknown / total if unique else 0.0,
                     float(fused[index]) - second, float(same_language)], dtype=np.float64)


@dataclass(frozen=True)
class Answerability:
    """Logistic models over FEATURES, one per question language."""

    weights: dict[str, tuple[float, ...]]  # lang -> one weight per feature
    bias: dict[str, float]
    threshold: dict[str, float]  # probability at or above which the passage is taken as an answer

    def probability(self, lang: str, features: np.ndarray) -> float:
        z = float(np.dot(self.weights[lang], features)) + self.bias[lang]
        return 1.0 / (1.0 + math.exp(-z))

    def answers(self, lang: str, features: np.ndarray) -> tuple[bool, float]:
        p = self.probability(lang, features)
        return p >= self.threshold[lang], p

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "Answerability":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: features {data['features']} are not {list(FEATURES)}")
        return cls({k: tuple(v) for k, v in data["weights"].items()}, data["bias"], data["threshold"])

    def save(self, path: Path, notes: dict) -> None:
        Path(path).write_text(json.dumps({"features": list(FEATURES), "weights": self.weights, "bias": self.bias,
                                          "threshold": self.threshold, "notes": notes}, indent=1) + "\n",
                              encoding="utf-8")
