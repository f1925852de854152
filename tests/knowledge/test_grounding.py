"""The alignment check on the language model's lead: it must keep every condition of what it restates."""

from knowledge.grounding import check_sentence

SHIPPING = ["Standard shipping within the United States takes 3 to 5 business days.",
            "Express shipping takes 1 to 2 business days."]
CANCEL = ["You can cancel an order free of charge until it is packed, usually within 1 hour of ordering.",
          "Once packed, it can no longer be cancelled, but you can return it after delivery."]


def test_a_faithful_restatement_passes():
    assert check_sentence("Express shipping takes 1 to 2 business days.", SHIPPING) is None
    assert check_sentence("Yes, you can cancel an order free of charge until it is packed, usually within 1 hour.",
                          CANCEL, "can I cancel my order?") is None


def test_a_dropped_tier_fails():
    # the README's first example: the express figure given as "shipping"
    assert check_sentence("Shipping takes 1 to 2 business days.", SHIPPING) is not None


def test_a_dropped_condition_fails():
    assert "until" in check_sentence("Yes, you can cancel your order free of charge.", CANCEL, "can I cancel?")


def test_a_new_number_fails():
    assert check_sentence("Standard shipping takes 2 to 5 business days.", SHIPPING) is not None


def test_words_from_the_question_are_not_evidence():
    # the Air Canada case: the question's own words must not pass the check
    question = "Do you offer a bereavement discount that I can claim back?"
    assert check_sentence("Yes, you can claim a bereavement discount.", CANCEL, question) is not None


def test_a_yes_needs_an_affirmative_source_that_covers_the_question():
    sale = ["Items marked Final Sale cannot be returned or exchanged."]
    assert check_sentence("Yes, items marked Final Sale cannot be returned.", sale, "can I return final sale?")
    assert check_sentence("No, items marked Final Sale cannot be returned or exchanged.", sale,
                          "can I return final sale items?") is None


def test_an_added_or_dropped_negation_fails():
    assert check_sentence("Standard shipping does not take 3 to 5 business days.", SHIPPING) is not None
    sale = ["Final sale items are non-returnable and are not refunded."]
    assert check_sentence("Final sale items are refunded.", sale) is not None


def test_chinese_or_empty_sentences_are_never_accepted():
    assert check_sentence("", SHIPPING) is not None
    assert check_sentence("标准配送需要3到5个工作日。", SHIPPING) is not None


def test_an_unqualified_yes_is_refused_where_the_store_makes_an_exception():
    sale = ["Items bought on sale can be returned within 30 days like any other item.",
            "Items marked Final Sale cannot be returned or exchanged."]
    question = "can I return sale items?"
    assert check_sentence("Yes, you can return items bought on sale within 30 days.", sale, question)
    assert check_sentence("Yes, but only items bought on sale, within 30 days.", sale, question) is None


def test_a_place_from_the_question_is_no_evidence_even_when_short():
    # "to the UK" came from the question only; the store's express figure is for the United States
    question = "How long does express shipping take to the UK?"
    assert check_sentence("Express shipping takes 1 to 2 business days to the UK.", SHIPPING, question)
