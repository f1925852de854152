"""The intent layer's one entry point: text in, Rasa-style parse data out.

Rasa's intent payloads (`/inform{"priority": "high"}`, sent by buttons) are
read by bot.nlu.payloads and never reach the classifier.
"""

from __future__ import annotations

from pathlib import Path

from bot.nlu.classifier import IntentClassifier, IntentPrediction
from bot.nlu.entities import EntityExtractor
from bot.nlu.model_store import load_model
from bot.nlu.payloads import parse_payload


class Interpreter:
    def __init__(self, classifier: IntentClassifier, extractor: EntityExtractor, meta: dict | None = None):
        self.classifier = classifier
        self.extractor = extractor
        self.meta = meta or {}

    @classmethod
    def load(cls, directory: Path, threshold: float | None = None,
             extra_lookups: dict[str, list[str]] | None = None) -> "Interpreter":
        return cls(*load_model(directory, threshold, extra_lookups))

    @property
    def intents(self) -> list[str]:
        return self.classifier.intents

    def parse(self, text: str) -> dict:
        """Blocking (runs the encoder): call it from a worker thread."""
        return self.parse_batch([text])[0]

    def parse_batch(self, texts: list[str]) -> list[dict]:
        parsed: list[dict | None] = [parse_payload(text) for text in texts]
        to_classify = [i for i, p in enumerate(parsed) if p is None]
        if to_classify:
            predictions = self.classifier.predict_batch([texts[i] for i in to_classify])
            for i, prediction in zip(to_classify, predictions):
                parsed[i] = self._parse_data(texts[i], prediction)
        return parsed

    def _parse_data(self, text: str, prediction: IntentPrediction) -> dict:
        return {
            "text": text,
            "intent": {"name": prediction.intent, "confidence": prediction.confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
            "entities": self.extractor.extract(text),
        }
