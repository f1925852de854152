"""lm.sentiment and lm.aspects with the shipped heads (loaded once for the module)."""

import threading

import pytest

from lm.aspects import clauses, extract_aspects, summarize
from lm.sentiment import EmptyReview, ModelMissing, Sentiment, SentimentAnalyser, UnsupportedLanguage, review_language

pytestmark = pytest.mark.integration  # loads the shipped heads (MiniLM and the Chinese one) once


@pytest.fixture(scope="module")
def analyser():
    a = SentimentAnalyser()
    a.warm_up()
    return a


@pytest.mark.parametrize("text, label", [
    ("Works great, I love this case. Highly recommend!", "positive"),
    ("Terrible. It broke after two days and the seller never answered.", "negative"),
    ("Excellent sound quality and the battery lasts all day.", "positive"),
    ("Waste of money, does not charge at all.", "negative"),
    ("质量很好，物流也很快，非常满意！", "positive"),
    ("太差了，用了两天就坏了，客服也不理人。", "negative"),
    ("味道很好，送餐也快，下次还点这家", "positive"),
    ("等了两个小时才送到，饭都凉了", "negative"),
])
def test_clear_reviews(analyser, text, label):
    result = analyser.classify(text)
    assert result.label == label
    assert -1.0 <= result.score <= 1.0 and (result.score > 0) == (label == "positive")
    assert result.lang == ("zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en")


def test_neutral_band_marks_weak_scores_neutral(analyser):
    text = "It is a phone case."
    score = analyser.classify(text).score
    wide = SentimentAnalyser(neutral_band=min(abs(score) + 0.01, 0.99))
    wide._heads, wide.meta = analyser._heads, analyser.meta  # same loaded heads, wider band
    assert wide.classify(text).label == "neutral"
    assert wide.classify("Absolutely love it, best purchase ever!").label == "positive"


def test_stored_neutral_band_is_narrow(analyser):
    assert 0 <= analyser.neutral_band("en") <= 0.2 and 0 <= analyser.neutral_band("zh") <= 0.2


@pytest.mark.parametrize("text", ["", "   ", "!!! ...", "\n"])
def test_empty_review(analyser, text):
    with pytest.raises(EmptyReview):
        analyser.classify(text)
    assert analyser.run([text]) == [Sentiment(None, None, None, "empty review")]


@pytest.mark.parametrize("text", ["Отличный товар", "Очень плохое качество, не рекомендую никому",
                                  "هذا المنتج رائع جدا", "この商品はとても良いです"])
def test_unsupported_language(analyser, text):
    with pytest.raises(UnsupportedLanguage) as caught:
        analyser.classify(text)
    assert caught.value.lang != "en"
    [result] = analyser.run([text])
    assert result.label is None and result.score is None and "unsupported language" in result.error


def test_run_keeps_order_and_length(analyser):
    texts = ["Love it!", "", "Отличный товар", "很差，不推荐", "Awful, returned it."]
    results = analyser.run(texts)
    assert [r.label for r in results] == ["positive", None, None, "negative", "negative"]
    assert results[1].error == "empty review" and "unsupported" in results[2].error


def test_mixed_language_review_is_chinese():
    assert review_language("shipping到Canada太慢了") == "zh"


def test_concurrent_calls_agree(analyser):
    texts = ["Great value for the price.", "物流很慢", "Stopped working after a week."] * 5
    expected = analyser.run(texts)
    seen = []

    def work():
        seen.append(analyser.run(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all([r.label for r in got] == [r.label for r in expected] for got in seen) and len(seen) == 4


def test_missing_model_and_bad_settings(tmp_path):
    with pytest.raises(ModelMissing):
        SentimentAnalyser(tmp_path).classify("fine")
    with pytest.raises(ValueError, match="neutral_band"):
        SentimentAnalyser(neutral_band=1.5)


# ---------------------------------------------------------------- aspects and summaries

REVIEWS = [
    (5, "The quality is excellent and it feels really sturdy."),
    (5, "Great quality. Shipping was fast too."),
    (2, "Nice material, but delivery took three weeks and the box was crushed."),
    (1, "Way too expensive for what you get."),
    (4, "Good quality for daily use."),
]


def test_clauses_are_verbatim():
    text = "Great quality, but shipping was slow. 质量很好，但是物流太慢了。"
    assert all(c in text for c in clauses(text))
    assert "but shipping was slow." in clauses(text)


def test_aspects_counted_with_verbatim_quotes(analyser):
    opinions = {o.aspect: o for o in extract_aspects([t for _, t in REVIEWS], analyser)}
    assert set(opinions) == {"quality", "delivery", "price"}
    assert opinions["quality"].positive >= 3 and opinions["price"].negative == 1
    texts = " ".join(t for _, t in REVIEWS)
    for o in opinions.values():
        for quote in (o.positive_quote, o.negative_quote):
            assert quote is None or quote.rstrip("…") in texts


def test_summary_mentions_only_aspects_present(analyser):
    text = summarize(REVIEWS, "en", analyser)
    assert text.startswith("5 reviews, mostly positive (3.4/5).") or text.startswith("5 reviews, mixed (3.4/5).")
    assert "Praised: quality" in text and "Complaints:" in text and "price" in text
    for absent in ("fit", "comfort", "taste", "battery", "smell", "sound", "service"):
        assert absent not in text
    for quote in text.split('"')[1::2]:
        assert quote.rstrip("…") in " ".join(t for _, t in REVIEWS)


def test_chinese_summary(analyser):
    reviews = [(5, "质量很好，做工精细"), (4, "物流很快，包装完好"), (1, "尺码偏小，穿不上"), (5, "质量不错，值得购买")]
    text = summarize(reviews, "zh", analyser)
    assert text.startswith("共4条评价，大多好评（平均3.8/5）。")
    assert "好评：质量（2条" in text and "差评：尺码（1条，“尺码偏小”）" in text
    assert "价格" not in text and "口味" not in text


def test_summary_without_reviews_or_aspects(analyser):
    assert summarize([], "en", analyser) == "No reviews yet."
    assert summarize([], "zh", analyser) == "还没有评价。"
    # no aspect named: the best and worst rated reviews are quoted instead
    assert summarize([(5, "Love it!")], "en", analyser) == '1 review, mostly positive (5.0/5). Liked: "Love it!"'
    both = summarize([(5, "Love it!"), (1, "Meh.")], "zh", analyser)
    assert both.endswith("好评摘录：“Love it!”。差评摘录：“Meh.”。")


def test_stars_decide_a_one_clause_review_and_a_mixed_review_is_split(analyser):
    opinions = {o.aspect: o for o in extract_aspects(["Not itchy at all.", "Great knife, the handle is too small."],
                                                     analyser, [5, 4])}
    assert opinions["comfort"].positive == 1 and not opinions["comfort"].negative
    assert opinions["fit"].negative == 1 and opinions["fit"].negative_quote == "the handle is too small."
    with pytest.raises(ValueError, match="lang"):
        summarize(REVIEWS, "fr", analyser)
