"""Entity extraction: regexes, lookups, synonyms and the shop's own entities."""

from bot.nlu.entities import EntityExtractor

EXTRACTOR = EntityExtractor(
    regexes={"order_id": [r"\b[Ss][Kk]-?\d{4}\b"]},
    lookups={"product": ["Dutch oven", "Chef's Knife 8\""], "colour": ["red", "navy", "红色"], "size": ["queen", "XL"]},
    synonyms={"dutch oven": "KT-102"},
)


def values(text: str) -> list[tuple[str, object]]:
    return [(e["entity"], e["value"]) for e in EXTRACTOR.extract(text)]


def test_shop_entities_in_one_message():
    assert values("I want 2 red Dutch ovens for order SK-1002, mail a.b@example.com") == [
        ("quantity", 2), ("colour", "red"), ("product", "KT-102"), ("order_id", "SK-1002"),
        ("email", "a.b@example.com")]


def test_number_words_sizes_and_spans():
    entities = EXTRACTOR.extract("three navy sheets in queen")
    assert [(e["entity"], e["value"]) for e in entities] == [("quantity", 3), ("colour", "navy"), ("size", "queen")]
    text = "three navy sheets in queen"
    assert [text[e["start"]:e["end"]] for e in entities] == ["three", "navy", "queen"]


def test_times_and_ids_are_not_quantities():
    assert values("it takes 3 days") == []
    assert values("order SK-1234 please") == [("order_id", "SK-1234")]


def test_chinese():
    assert values("我要两个红色的") == [("quantity", 2), ("colour", "红色")]


def test_odd_input_does_not_crash():
    for text in ["", "🙂" * 50, "\x00\x1b[31m", "a" * 10000, "[](){}\\"]:
        assert isinstance(EXTRACTOR.extract(text), list)
