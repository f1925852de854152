"""Intent classifier: frozen sentence embeddings + a logistic-regression head.

The model directory holds the head as plain numpy arrays (no pickle) and a
meta.json naming the encoder, labels, threshold and a fingerprint of the
training data, so `train_or_load` skips training when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.nlu.training_data import TrainingData
from lm.embeddings import Encoder

log = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
FORMAT_VERSION = 1


@dataclass
class IntentPrediction:
    intent: str
    confidence: float
    ranking: list[tuple[str, float]]


class IntentClassifier:
    def __init__(self, encoder: Encoder, labels: list[str], weights: np.ndarray, bias: np.ndarray, threshold: float):
        self.encoder = encoder
        self.labels = labels
        self.weights = weights  # (n_labels, dim)
        self.bias = bias  # (n_labels,)
        self.threshold = threshold

    @classmethod
    def train(cls, data: TrainingData, encoder: Encoder, threshold: float) -> "IntentClassifier":
        from sklearn.linear_model import LogisticRegression

        texts = [e.text for e in data.examples]
        y = [e.intent for e in data.examples]
        X = encoder.encode(texts)
        # C is high because embeddings are unit-length: a weak penalty is
        # needed for confident predictions on a few examples per intent.
        head = LogisticRegression(C=20.0, max_iter=2000)
        head.fit(X, y)
        labels = [str(c) for c in head.classes_]
        weights, bias = head.coef_, head.intercept_
        if len(labels) == 2:  # sklearn keeps one row for two classes
            weights = np.vstack([-weights[0] / 2, weights[0] / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2])
        return cls(encoder, labels, weights.astype(np.float32), bias.astype(np.float32), threshold)

    def predict_batch(self, texts: list[str]) -> list[IntentPrediction]:
        X = self.encoder.encode([t if t.strip() else " " for t in texts])
        logits = X @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        out = []
        for row, text in zip(probs, texts):
            order = np.argsort(-row)[:10]
            ranking = [(self.labels[i], float(row[i])) for i in order]
            best, conf = ranking[0]
            if conf < self.threshold or not text.strip():
                best = FALLBACK_INTENT
            out.append(IntentPrediction(best, conf, ranking))
        return out

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_batch([text])[0]

    def save(self, directory: Path, fingerprint: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "head.npz", weights=self.weights, bias=self.bias)
        meta = {
            "format": FORMAT_VERSION,
            "encoder": self.encoder.spec,
            "labels": self.labels,
            "threshold": self.threshold,
            "fingerprint": fingerprint,
        }
        # meta.json is written last: its presence marks a complete model.
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path, encoder: Encoder, threshold: float | None = None) -> "IntentClassifier":
        meta = json.loads((directory / "meta.json").read_text())
        head = np.load(directory / "head.npz")
        return cls(encoder, meta["labels"], head["weights"], head["bias"],
                   meta["threshold"] if threshold is None else threshold)


def fingerprint(data_file: Path, encoder_spec: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{FORMAT_VERSION}|{encoder_spec}|".encode())
    digest.update(Path(data_file).read_bytes())
    return digest.hexdigest()


def train_or_load(data: TrainingData, data_file: Path, encoder: Encoder, models_dir: Path,
                  threshold: float) -> IntentClassifier:
    """Load the model trained on exactly this data, or train and save one."""
    fp = fingerprint(data_file, encoder.spec)
    directory = models_dir / fp[:16]
    if (directory / "meta.json").exists():
        log.info("intent model %s is up to date", directory)
        return IntentClassifier.load(directory, encoder, threshold)
    log.info("training intent model on %d examples -> %s", len(data.examples), directory)
    model = IntentClassifier.train(data, encoder, threshold)
    model.save(directory, fp)
    return model
