"""The intent layer's one entry point: text in, Rasa-style parse data out."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.classifier import IntentClassifier, train_or_load
from bot.nlu.entities import RegexEntityExtractor
from bot.nlu.training_data import load_nlu_yaml
from lm.embeddings import Encoder


class Interpreter:
    def __init__(self, classifier: IntentClassifier, extractor: RegexEntityExtractor):
        self.classifier = classifier
        self.extractor = extractor

    @classmethod
    def from_training_file(cls, data_file: Path, encoder: Encoder, models_dir: Path,
                           threshold: float) -> "Interpreter":
        data = load_nlu_yaml(data_file)
        classifier = train_or_load(data, data_file, encoder, models_dir, threshold)
        return cls(classifier, RegexEntityExtractor(data.regexes))

    @property
    def intents(self) -> list[str]:
        return list(self.classifier.labels)

    def parse(self, text: str) -> dict:
        """Blocking (runs the encoder): call it from a worker thread."""
        prediction = self.classifier.predict(text)
        return {
            "text": text,
            "intent": {"name": prediction.intent, "confidence": prediction.confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
            "entities": self.extractor.extract(text),
        }
