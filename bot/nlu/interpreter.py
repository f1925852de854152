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
             extra_lookups: dict[str, list[str]] | None = None, dimensions=()) -> "Interpreter":
        """`dimensions`: Duckling dimensions to find (number, email), for projects that used Duckling."""
        return cls(*load_model(directory, threshold, extra_lookups, dimensions))

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
        parsed = [retrieval_shape(p) for p in parsed]
        return parsed

    def _parse_data(self, text: str, prediction: IntentPrediction) -> dict:
        return {
            "text": text,
            "intent": {"name": prediction.intent, "confidence": prediction.confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
            "entities": self.extractor.extract(text),
        }


def retrieval_shape(parse: dict) -> dict:
    """A retrieval intent ("faq/returns", trained as its own class) in Rasa's shape: the intent is its
    base ("faq", with the sub-intents' confidences summed) and `response_selector` names the response
    (`utter_faq/returns`), as Rasa's ResponseSelector would. Other parses are returned as they are."""
    name = parse["intent"]["name"]
    if not isinstance(name, str) or "/" not in name:
        return parse
    base = name.split("/", 1)[0]
    same = [r for r in parse.get("intent_ranking") or [] if str(r["name"]).split("/", 1)[0] == base]
    confidence = min(1.0, sum(r["confidence"] for r in same)) if same else parse["intent"]["confidence"]
    parse = {**parse, "intent": {"name": base, "confidence": confidence, "full_retrieval_intent_name": name}}
    parse["response_selector"] = {"all_retrieval_intents": [base], base: {
        "response": {"intent_response_key": name, "utter_action": f"utter_{name}",
                     "confidence": same[0]["confidence"] if same else confidence},
        "ranking": [{"intent_response_key": r["name"], "confidence": r["confidence"]} for r in same]}}
    return parse
