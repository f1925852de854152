"""Intent classifier: sentence embeddings (and n-gram features) + a
calibrated linear head.

Training holds out part of the data to calibrate: a temperature so that
confidences mean what they say, and the out-of-scope threshold (below it the
intent is `nlu_fallback`). With out-of-scope examples in the data the
threshold balances in-scope accuracy against out-of-scope recall; without
them it lets through all but the least confident one percent of correct
held-out predictions. The head is then refitted on all the data.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from bot.nlu.lexical import LexicalFeatures, combine, stack
from lm.language import has_chinese

log = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
MAX_TEXT_CHARS = 1000  # the encoder reads at most 256 tokens; longer text only costs time
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """What the encoder sees: no control characters, bounded length."""
    return _CONTROL.sub(" ", text)[:MAX_TEXT_CHARS].strip()


@dataclass
class IntentPrediction:
    intent: str
    confidence: float
    ranking: list[tuple[str, float]]


@dataclass
class Calibration:
    temperature: float = 1.0
    threshold: float = 0.4
    source: str = "default"  # "held-out" when chosen from data
    heldout_accuracy: float | None = None
    heldout_oos_recall: float | None = None
    heldout_examples: int = 0


def fit_head(X: np.ndarray, y: list[str], C: float = 20.0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A multinomial logistic regression; returns (labels, weights, bias)."""
    from sklearn.linear_model import LogisticRegression

    # C is high because embeddings are unit-length: a weak penalty is
    # needed for confident predictions from a few examples per intent.
    head = LogisticRegression(C=C, max_iter=1000)
    head.fit(X, y)
    labels = [str(c) for c in head.classes_]
    weights, bias = head.coef_, head.intercept_
    if len(labels) == 2:  # sklearn keeps one row for two classes
        weights = np.vstack([-weights[0] / 2, weights[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    return labels, weights.astype(np.float32), bias.astype(np.float32)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature that minimises held-out negative log-likelihood."""
    best, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.2), np.log(5.0), 41)):
        p = softmax(logits, t)[np.arange(len(gold)), gold]
        nll = -np.log(np.clip(p, 1e-12, 1)).mean()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def choose_threshold(conf_in: np.ndarray, correct_in: np.ndarray, conf_oos: np.ndarray) -> float:
    """The out-of-scope threshold from held-out confidences."""
    if len(conf_oos):
        # Balance: in-scope examples answered correctly vs out-of-scope caught.
        candidates = np.unique(np.concatenate([conf_in, conf_oos, [0.0]]))
        scores = [((conf_in >= t) & correct_in).mean() + (conf_oos < t).mean() for t in candidates]
        best = int(np.argmax(scores))
        # between this candidate and the next, pick the middle: robust to unseen data
        upper = candidates[best + 1] if best + 1 < len(candidates) else candidates[best]
        return float((candidates[best] + upper) / 2)
    correct = conf_in[correct_in]
    if len(correct) == 0:
        return 0.4
    # Without out-of-scope examples a rejection is only ever a loss on the
    # training intents, so reject only near-chance predictions: the 0.5%
    # quantile of right answers, capped (on BANKING77 the 1% quantile, capped
    # at 0.5, rejected 1.1% of messages, most of them right; this costs 0.2%).
    return float(np.clip(np.quantile(correct, 0.005), 0.05, 0.25))


def heldout_split(labels: list[str], fraction: float = 0.15, seed: int = 0) -> tuple[list[int], list[int]]:
    """Stratified (train, held-out) indices; intents with fewer than 4 examples stay whole in train."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train, held = [], []
    for idx in by_label.values():
        idx = list(rng.permutation(idx))
        n = int(round(len(idx) * fraction)) if len(idx) >= 4 else 0
        held += idx[:n]
        train += idx[n:]
    return sorted(train), sorted(held)


class IntentClassifier:
    def __init__(self, encoder, labels: list[str], weights: np.ndarray, bias: np.ndarray,
                 calibration: Calibration, lexical: LexicalFeatures | None = None):
        self.encoder = encoder
        self.labels = labels  # may include FALLBACK_INTENT when trained with out-of-scope examples
        self.weights = weights  # (n_labels, embedding dim + n-gram features)
        self.bias = bias  # (n_labels,)
        self.calibration = calibration
        self.lexical = lexical
        # Prediction multiplies the two parts separately: the sparse n-gram
        # row only touches the weights of the n-grams it contains.
        dim = weights.shape[1] - (lexical.dimension if lexical is not None else 0)
        self._dense_weights = np.ascontiguousarray(weights[:, :dim].T)
        self._ngram_weights = np.ascontiguousarray(weights[:, dim:].T) if lexical is not None else None

    @property
    def intents(self) -> list[str]:
        return [label for label in self.labels if label != FALLBACK_INTENT]

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def probabilities(self, cleaned: list[str]) -> np.ndarray:
        logits = self.encoder.encode([t or " " for t in cleaned]) @ self._dense_weights + self.bias
        if self.lexical is not None:
            # Row by row, gathering only the weights of the n-grams present:
            # scipy's sparse @ dense walks the whole weight matrix (8 ms for
            # CLINC150's 53k n-grams; this takes microseconds).
            ngrams = self.lexical.transform(cleaned)
            for row in range(ngrams.shape[0]):
                start, end = ngrams.indptr[row], ngrams.indptr[row + 1]
                logits[row] += ngrams.data[start:end] @ self._ngram_weights[ngrams.indices[start:end]]
        return softmax(logits, self.calibration.temperature)

    def predict_batch(self, texts: list[str]) -> list[IntentPrediction]:
        cleaned = [clean_text(t) for t in texts]
        return [self._decide(row, bool(text)) for row, text in zip(self.probabilities(cleaned), cleaned)]

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_batch([text])[0]

    def _decide(self, probs: np.ndarray, has_text: bool) -> IntentPrediction:
        order = np.argsort(-probs)
        ranking = [(self.labels[i], float(probs[i])) for i in order if self.labels[i] != FALLBACK_INTENT][:10]
        best, confidence = ranking[0]
        if not has_text or confidence < self.threshold or self.labels[order[0]] == FALLBACK_INTENT:
            best = FALLBACK_INTENT
        return IntentPrediction(best, confidence, ranking)


def featurize(encoder, lexical: LexicalFeatures | None, cleaned: list[str], progress: bool = False):
    dense = encoder.encode([t or " " for t in cleaned], progress=progress)
    return combine(dense, lexical.transform(cleaned) if lexical is not None else None)


def train_classifier(encoder, texts: list[str], labels: list[str], oos_texts: list[str] = (),
                     threshold: float | None = None, progress: bool = False) -> IntentClassifier:
    """Fit, calibrate on held-out data, refit on everything."""
    cleaned = [clean_text(t) for t in texts]
    oos_texts = [clean_text(t) for t in oos_texts]
    features = LexicalFeatures.fit(cleaned + oos_texts)
    X = featurize(encoder, features, cleaned, progress)
    X_oos = featurize(encoder, features, oos_texts) if oos_texts else None
    train, held = heldout_split(labels)
    oos_idx = np.random.default_rng(1).permutation(len(oos_texts))
    oos_train, oos_held = oos_idx[len(oos_idx) // 2:], oos_idx[: len(oos_idx) // 2]
    # Out-of-scope examples also train the head, as a class of their own, when
    # there are enough of them to stand for "everything else".
    use_oos_class = len(oos_texts) >= 20

    def fit(rows: list[int], oos_rows) -> tuple[list[str], np.ndarray, np.ndarray]:
        Xs, ys = X[rows], [labels[i] for i in rows]
        if use_oos_class and len(oos_rows):
            Xs = stack(Xs, X_oos[oos_rows])
            ys = ys + [FALLBACK_INTENT] * len(oos_rows)
        return fit_head(Xs, ys)

    calibration = Calibration()
    if held and len(set(labels[i] for i in train)) >= 2:
        names, w, b = fit(train, oos_train)
        logits_in = np.asarray(X[held] @ w.T) + b
        gold = np.array([names.index(labels[i]) for i in held])
        temperature = fit_temperature(logits_in, gold)
        probs_in = softmax(logits_in, temperature)
        intent_cols = [i for i, n in enumerate(names) if n != FALLBACK_INTENT]
        conf_in = probs_in[:, intent_cols].max(axis=1)
        pred_in = np.array(intent_cols)[probs_in[:, intent_cols].argmax(axis=1)]
        correct = (pred_in == gold) & (probs_in.argmax(axis=1) == pred_in)
        conf_oos = np.zeros(0)
        caught_by_class = np.zeros(0, dtype=bool)
        if len(oos_held):
            probs_oos = softmax(np.asarray(X_oos[oos_held] @ w.T) + b, temperature)
            conf_oos = probs_oos[:, intent_cols].max(axis=1)
            caught_by_class = ~np.isin(probs_oos.argmax(axis=1), intent_cols)
            # an example the out-of-scope class already catches needs no threshold
            conf_oos = np.where(caught_by_class, 0.0, conf_oos)
        chosen = choose_threshold(conf_in, correct, conf_oos)
        used = chosen if threshold is None else threshold
        calibration = Calibration(
            temperature=temperature, threshold=used, source="held-out" if threshold is None else "config",
            heldout_accuracy=float(((conf_in >= used) & correct).mean()),
            heldout_oos_recall=float((conf_oos < used).mean()) if len(conf_oos) else None,
            heldout_examples=len(held))
        log.info("calibrated on %d held-out examples: temperature %.2f, threshold %.3f, accuracy %.3f%s",
                 len(held), temperature, used, calibration.heldout_accuracy,
                 f", out-of-scope recall {calibration.heldout_oos_recall:.3f}" if len(conf_oos) else "")
    elif threshold is not None:
        calibration = Calibration(threshold=threshold, source="config")
    names, w, b = fit(list(range(len(texts))), oos_idx)
    return IntentClassifier(encoder, names, w, b, calibration, features)


class RoutedClassifier:
    """One classifier per language route: "en" (an English encoder) and/or
    "zh" (a multilingual encoder, trained on every example). Text with
    Chinese characters goes to "zh" when there is one; all else to "en"."""

    def __init__(self, routes: dict[str, IntentClassifier]):
        if not routes:
            raise ValueError("at least one route is needed")
        self.routes = routes

    @property
    def intents(self) -> list[str]:
        return sorted({i for c in self.routes.values() for i in c.intents})

    def route(self, text: str) -> str:
        if len(self.routes) == 1:
            return next(iter(self.routes))
        return "zh" if has_chinese(text) else "en"

    def predict_batch(self, texts: list[str]) -> list[IntentPrediction]:
        out: list[IntentPrediction | None] = [None] * len(texts)
        by_route: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            by_route.setdefault(self.route(text), []).append(i)
        for name, idx in by_route.items():
            for i, prediction in zip(idx, self.routes[name].predict_batch([texts[i] for i in idx])):
                out[i] = prediction
        return out

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_batch([text])[0]
