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
