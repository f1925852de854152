"""The intent layer on the demo store's data, with the real packaged encoder."""

import pytest

from bot.nlu.classifier import FALLBACK_INTENT, IntentClassifier, train_or_load
from bot.nlu.training_data import load_nlu_yaml

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("text, intent", [
    ("hello there", "greet"),
    ("has my parcel shipped yet?", "order_status"),
    ("do you deliver to Australia?", "ask_question"),
    ("please put me through to a real person", "human_handoff"),
    ("thank you so much", "thank"),
    ("SK-1017", "inform_order_id"),
])
def test_demo_intents(models, text, intent):
    parse = models.interpreter.parse(text)
    assert parse["intent"]["name"] == intent
    assert parse["intent_ranking"][0]["name"] == intent
    assert abs(sum(r["confidence"] for r in parse["intent_ranking"]) - 1) < 0.01


def test_order_ids_are_extracted(models):
    entities = models.interpreter.parse("is sk1002 or SK-1003 mine?")["entities"]
    assert [e["value"] for e in entities] == ["sk1002", "SK-1003"]


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "a" * 10000, "\x00\x07 hello \x1b[31m",
                                  "你好 where is 我的 order"])
def test_odd_input_gets_a_prediction_not_a_crash(models, text):
    parse = models.interpreter.parse(text)
    assert parse["intent"]["name"] in models.interpreter.intents + [FALLBACK_INTENT]
    if not text.strip():
        assert parse["intent"]["name"] == FALLBACK_INTENT


def test_training_is_skipped_when_the_data_has_not_changed(base_config, tmp_path, monkeypatch):
    from lm.embeddings import get_encoder

    data = load_nlu_yaml(base_config.nlu.data)
    encoder = get_encoder(base_config.nlu.encoder)
    train_or_load(data, base_config.nlu.data, encoder, tmp_path, 0.4)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(IntentClassifier, "train", no_training)
    model = train_or_load(data, base_config.nlu.data, encoder, tmp_path, 0.4)
    assert len(list(tmp_path.iterdir())) == 1 and "greet" in model.labels
