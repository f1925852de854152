"""The intent layer's one entry point: text in, Rasa-style parse data out."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.classifier import IntentClassifier, IntentPrediction
from bot.nlu.entities import EntityExtractor
from bot.nlu.model_store import load_model


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
        predictions = self.classifier.predict_batch(texts)
        return [self._parse_data(text, p) for text, p in zip(texts, predictions)]

    def _parse_data(self, text: str, prediction: IntentPrediction) -> dict:
        return {
            "text": text,
            "intent": {"name": prediction.intent, "confidence": prediction.confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
            "entities": self.extractor.extract(text),
        }
