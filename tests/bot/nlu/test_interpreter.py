"""The intent layer on the demo store's data, with the real packaged encoder."""

import pytest

from bot.nlu import classifier as classifier_module
from bot.nlu.classifier import FALLBACK_INTENT
from bot.nlu.interpreter import Interpreter
from bot.nlu.model_store import complete_models
from bot.nlu.training import train_model

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
    first = train_model(base_config.nlu.data, tmp_path, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr("bot.nlu.training.train_classifier", no_training)
    assert train_model(base_config.nlu.data, tmp_path, progress=False) == first
    assert complete_models(tmp_path) == [first]
    interpreter = Interpreter.load(first)
    assert "greet" in interpreter.intents
    assert set(interpreter.meta["routes"]) == {"en", "zh"}  # the demo data is English and Chinese
    assert all(r["calibration"]["source"] == "held-out" for r in interpreter.meta["routes"].values())
    assert classifier_module.FALLBACK_INTENT not in interpreter.intents


def test_changed_data_gives_a_new_model_version(base_config, tmp_path):
    data = tmp_path / "nlu.yml"
    data.write_text(base_config.nlu.data.read_text())
    first = train_model(data, tmp_path / "models", progress=False)
    data.write_text(data.read_text() + "\n- intent: compliment\n  examples: |\n    - you are great\n"
                                          "    - nice bot\n    - love this shop\n    - well done\n")
    second = train_model(data, tmp_path / "models", progress=False)
    assert second != first and complete_models(tmp_path / "models") == [first, second]
    assert "compliment" in Interpreter.load(second).intents


@pytest.mark.parametrize("text, intent", [
    ("你好", "greet"),
    ("我的订单到哪了", "order_status"),
    ("可以退货吗", "ask_question"),
    ("转人工客服", "human_handoff"),
])
def test_chinese_messages_go_to_the_multilingual_route(models, text, intent):
    assert models.interpreter.classifier.route(text) == "zh"
    assert models.interpreter.parse(text)["intent"]["name"] == intent


def test_english_messages_go_to_the_english_route(models):
    assert models.interpreter.classifier.route("where is my order") == "en"
