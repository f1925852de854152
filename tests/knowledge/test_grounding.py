"""The lexical grounding check that keeps invented facts away from shoppers."""

from knowledge.grounding import is_grounded

SOURCE = ["How long does shipping take?",
          "Standard shipping within the United States takes 3 to 5 business days. Express shipping takes 1 to 2."]


def test_a_faithful_rephrasing_passes():
    assert is_grounded("Standard shipping takes 3 to 5 business days; express takes 1 to 2.", SOURCE)


def test_a_new_number_fails():
    assert not is_grounded("Standard shipping takes 2 to 5 business days.", SOURCE)


def test_an_invented_claim_fails():
    assert not is_grounded("Yes, we also ship to Canada and Mexico for free with DHL.", SOURCE)


def test_empty_answers_fail():
    assert not is_grounded("", SOURCE) and not is_grounded("   ", SOURCE)


def test_an_added_negation_fails():
    assert not is_grounded("Standard shipping does not take 3 to 5 business days.", SOURCE)
    assert not is_grounded("We don't ship within the United States.", SOURCE)


def test_a_dropped_negation_fails():
    source = ["Final sale items", "Final sale items are non-returnable and are not refunded."]
    assert not is_grounded("Final sale items are returnable.", source)
    assert not is_grounded("Final sale items are refunded.", source)
    assert is_grounded("Final sale items are not refunded.", source)


CHINESE_SOURCE = ["退货政策", "我们提供7天无理由退货。商品需保持原包装完好，退款将在收到退货后3个工作日内处理。"]


def test_a_faithful_chinese_rephrasing_passes():
    assert is_grounded("您可以在7天内无理由退货，商品需保持原包装完好。", CHINESE_SOURCE, "可以退货吗？")


def test_invented_chinese_claims_fail():
    assert not is_grounded("我们提供30天无理由退货。", CHINESE_SOURCE)  # a new number
    assert not is_grounded("我们免费上门取件，并赠送优惠券。", CHINESE_SOURCE)  # new facts
    assert not is_grounded("我们不提供无理由退货。", CHINESE_SOURCE)  # a negation the store never wrote


def test_a_leading_no_negates_nothing_after_the_comma():
    source = ["Can I return a final sale item?", "Final sale items are non-returnable."]
    assert is_grounded("No, final sale items are non-returnable.", source)
