"""Calibration, thresholds and routing, on small synthetic inputs."""

import numpy as np

from bot.nlu.classifier import (
    Calibration,
    IntentClassifier,
    RoutedClassifier,
    choose_threshold,
    fit_temperature,
    heldout_split,
    softmax,
)
from bot.nlu.lexical import LexicalFeatures


def test_threshold_balances_in_scope_and_out_of_scope():
    conf_in = np.array([0.9, 0.8, 0.85, 0.95, 0.7])
    correct = np.array([True, True, True, True, False])
    conf_oos = np.array([0.3, 0.4, 0.5])
    t = choose_threshold(conf_in, correct, conf_oos)
    assert 0.5 < t <= 0.8  # catches every out-of-scope example, keeps every correct answer


def test_threshold_without_out_of_scope_examples_keeps_nearly_all_correct_answers():
    conf = np.linspace(0.3, 1.0, 200)
    t = choose_threshold(conf, np.ones(200, dtype=bool), np.zeros(0))
    assert (conf >= t).mean() >= 0.98 and t <= 0.5


def test_heldout_split_is_stratified_and_keeps_rare_intents_whole():
    labels = ["a"] * 20 + ["b"] * 3
    train, held = heldout_split(labels)
    assert sorted(train + held) == list(range(23))
    assert [labels[i] for i in held] == ["a"] * 3


def test_temperature_softens_overconfident_logits():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), gold] += 1.0
    logits *= 10  # far too confident for how often it is right
    assert fit_temperature(logits, gold) > 3
    assert np.allclose(softmax(logits).sum(axis=1), 1)


class FixedEncoder:
    """Stands in for a sentence encoder: a fixed 2-d vector per text."""

    def encode(self, texts, progress=False):
        return np.array([[1.0, 0.0] if "a" in t else [0.0, 1.0] for t in texts], dtype=np.float32)


def test_routes_send_chinese_to_the_multilingual_classifier():
    weights, bias = np.array([[5.0, 0.0], [0.0, 5.0]], dtype=np.float32), np.zeros(2, dtype=np.float32)
    en = IntentClassifier(FixedEncoder(), ["alpha", "beta"], weights, bias, Calibration(threshold=0.1))
    zh = IntentClassifier(FixedEncoder(), ["beta", "alpha"], weights, bias, Calibration(threshold=0.1))
    routed = RoutedClassifier({"en": en, "zh": zh})
    predictions = routed.predict_batch(["a", "中文 a", "b"])
    assert [p.intent for p in predictions] == ["alpha", "beta", "beta"]
    assert routed.predict("").intent == "nlu_fallback"


def test_ngram_features_round_trip_through_their_saved_state():
    features = LexicalFeatures.fit(["where is my order", "refund please", "我的订单在哪里", "订单退款"])
    vocab, arrays = features.state()
    again = LexicalFeatures.from_state(vocab, arrays)
    texts = ["where is 订单", "REFUND!!"]
    assert (features.transform(texts) != again.transform(texts)).nnz == 0
    assert features.transform(texts).shape == (2, features.dimension)
