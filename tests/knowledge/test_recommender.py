"""The conversational recommender: filters, reasons, follow-ups, Chinese, unknown products."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from knowledge.catalog import Product
from knowledge.recommend_request import RecommendRequest, RequestError, parse_request
from knowledge.recommender import (
    CoPurchaseModel,
    Interaction,
    InteractionError,
    Recommender,
    UnknownProductError,
    load_interactions,
)


class WordEncoder:
    """A fast stand-in for the sentence encoders: hashed bag of English words, unit length."""

    def encode(self, texts, batch_size=64, progress=False, passage=False):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for n, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[n, zlib.crc32(word.encode()) % 64] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)


def product(sku, name, category, price, colours=(), sizes=(), stock=10, description=""):
    return Product(sku=sku, name=name, category=category, price=price, currency="USD", in_stock=stock,
                   description=description or name, colours=tuple(colours), sizes=tuple(sizes),
                   url=f"/p/{sku}", image=f"/img/{sku}.svg")


CATALOG = [
    product("K1", "Cast Iron Skillet", "kitchen", 39.0, ["black"], description="Cast iron pan for searing"),
    product("K2", "Oven Mitts", "kitchen", 15.0, ["red", "blue"], description="Cotton oven mitts, heat proof"),
    product("K3", "Steel Frying Pan", "kitchen", 45.0, ["silver"], description="Stainless steel frying pan"),
    product("K4", "Enamel Pan", "kitchen", 25.0, ["blue"], description="Enamel pan for searing"),
    product("H1", "Wool Throw", "home", 119.0, ["navy", "oat"], description="Merino wool throw blanket"),
    product("H2", "Wool Scarf", "apparel", 45.0, ["blue", "grey"], ["S", "M"], description="Soft wool scarf"),
    product("H3", "Wool Socks", "apparel", 19.0, ["grey"], ["M", "L"], description="Warm wool socks"),
    product("H4", "Wool Hat", "apparel", 29.0, ["blue"], ["M"], stock=0, description="Wool hat"),
    product("C1", "Soy Candle", "home", 24.0, description="Hand-poured soy candle"),
]
INTERACTIONS = ([{"user": f"u{n}", "sku": "K1", "time": n} for n in range(4)]
                + [{"user": f"u{n}", "sku": "K2", "time": n} for n in range(3)]
                + [{"user": "u9", "sku": "H1", "time": 1}, {"user": "u9", "sku": "C1", "time": 1}])


@pytest.fixture
def rec():
    return Recommender(CATALOG, INTERACTIONS, english_encoder=WordEncoder(), multilingual_encoder=None)


def test_filters_hold(rec):
    request = RecommendRequest(query="wool", max_price=50, colour="blue", size="M")
    result = rec.run(request, k=5)
    assert [r.sku for r in result.items] == ["H2"]  # H4 is blue, M and wool but out of stock
    assert all(r.price <= 50 for r in result.items)
    result = rec.run(RecommendRequest(query="wool", in_stock_only=False, colour="blue", size="M"), k=5)
    assert {r.sku for r in result.items} == {"H2", "H4"}


def test_cards_have_the_fields_the_action_renders(rec):
    item = rec.run(RecommendRequest(query="pan"), k=1).items[0]
    assert item.title and item.price > 0 and item.currency == "USD"
    assert item.url == f"/p/{item.sku}" and item.image == f"/img/{item.sku}.svg" and item.reason


def test_complement_reason_is_true(rec):
    result = rec.recommend("what goes with the cast iron skillet?")
    assert result.anchor.sku == "K1"
    first = result.items[0]
    assert first.sku == "K2" and first.reason == "bought together with Cast Iron Skillet"
    model = rec.model
    for item in result.items:
        if item.reason.startswith("bought together"):
            assert model.together[model.index["K1"], model.index[item.sku]] > 0


def test_similar_excludes_the_product_and_price_reason(rec):
    result = rec.recommend("similar to the cast iron skillet under 40")
    assert "K1" not in {r.sku for r in result.items}
    assert all(r.price <= 40 for r in result.items)
    assert all("under $40" in r.reason for r in result.items)


def test_follow_ups_keep_earlier_constraints(rec):
    first = rec.recommend("something wool under 50")
    assert first.request.max_price == 50 and first.items
    cheaper = rec.recommend("cheaper?", first.request, shown=first.items)
    assert cheaper.request.query == first.request.query
    assert all(r.price < min(i.price for i in first.items) for r in cheaper.items)
    blue = rec.recommend("in blue?", cheaper.request)
    assert blue.request.max_price == cheaper.request.max_price and blue.request.colour == "blue"
    blue_any_price = rec.recommend("in blue?", first.request)
    assert blue_any_price.items[0].sku == "H2"  # the query ranks; only constraints filter
    assert all(r.price <= 50 and r.sku in {"H2", "K2", "K4"} for r in blue_any_price.items)
    assert "blue" in blue_any_price.items[0].reason and "under $50" in blue_any_price.items[0].reason


def test_chinese_requests_and_follow_ups(rec):
    req = parse_request("50元以下")
    assert req.max_price == 50 and req.language == "zh" and req.query == ""
    result = rec.run(req, k=10)
    assert result.items and all(r.price <= 50 for r in result.items)
    assert all("$50以下" in r.reason for r in result.items)
    cheaper = rec.recommend("便宜一点的", req, shown=result.items)
    assert cheaper.request.max_price < min(r.price for r in result.items)
    blue = rec.recommend("有蓝色的吗", req)
    assert blue.request.colour == "blue" and blue.request.max_price == 50
    assert {r.sku for r in blue.items} == {"K2", "K4", "H2"}
    similar = rec.recommend("和Cast Iron Skillet类似的")
    assert similar.request.kind == "similar" and similar.anchor.sku == "K1"
    assert similar.quick_replies and all(re.search(r"[\u4e00-\u9fff]", q) for q in similar.quick_replies)


def test_the_kind_of_product_named_is_a_filter(rec):
    assert {r.sku for r in rec.recommend("a blue pan", k=5).items} == {"K4"}
    assert rec.recommend("a pan under 20", k=5).items == []  # no pan is that cheap: nothing else instead
    assert len(rec.recommend("a gift under 30", k=5).items) >= 2  # "gift" names no kind


def test_a_product_the_store_does_not_sell_is_never_an_anchor(rec):
    with pytest.raises(UnknownProductError):
        rec.recommend("similar to the wool gloves")  # not the Wool Scarf, Socks or Hat


def test_unknown_product_is_an_error(rec):
    with pytest.raises(UnknownProductError) as info:
        rec.recommend("similar to the flying carpet")
    assert info.value.reference == "flying carpet"
    with pytest.raises(UnknownProductError):
        rec.recommend("what goes with the hovercraft?")


def test_quick_replies_parse_back(rec):
    result = rec.recommend("something wool")
    for reply in result.quick_replies:
        follow = rec.parse(reply, result.request, shown=result.items)
        assert follow.kind in ("browse", "similar")


def test_parser_phrasings():
    assert parse_request("something for my mum under $50").max_price == 50
    assert parse_request("between 20 and 40 dollars").min_price == 20
    assert parse_request("a rain jacket in size M").size == "M"
    assert parse_request("I'd like the skillet").kind == "browse"
    assert parse_request("铸铁锅配什么").kind == "complement"
    with pytest.raises(RequestError):
        RecommendRequest(kind="similar")


def test_personal_history_and_cold_start():
    model = CoPurchaseModel().fit([Interaction("a", "x"), Interaction("a", "y"), Interaction("b", "x"),
                                   Interaction("b", "y"), Interaction("c", "z"), Interaction("d", "z"),
                                   Interaction("e", "z")])
    assert model.recommend({"x"}, 1) == ["y"]  # co-occurrence beats popularity
    assert model.recommend(set(), 1) == ["z"]  # cold start: the most popular
    assert "x" not in model.recommend({"x"}, 3)


def test_interactions_file_errors(tmp_path):
    path = tmp_path / "i.jsonl"
    path.write_text('# demo\n{"user": "a", "sku": "K1", "time": 1}\n{"user": "a"}\n', encoding="utf-8")
    with pytest.raises(InteractionError, match=r"i.jsonl:3"):
        load_interactions(path)
    with pytest.raises(InteractionError):
        Recommender(CATALOG, [{"sku": "K1"}], english_encoder=None, multilingual_encoder=None)


def test_demo_interactions_load():
    from knowledge.catalog import load_catalog
    from knowledge.recommender import demo_interactions_path

    catalog = load_catalog(demo_interactions_path().parent / "products.json")
    rec = Recommender(catalog, load_interactions(demo_interactions_path()), english_encoder=None,
                      multilingual_encoder=None)
    result = rec.recommend("what goes with the cast iron skillet?")
    assert result.items[0].reason.startswith("bought together with Cast Iron Skillet")


@pytest.mark.integration
def test_real_encoders_chinese():
    from knowledge.catalog import load_catalog
    from knowledge.recommender import demo_interactions_path

    rec = Recommender(load_catalog(demo_interactions_path().parent / "products.json"),
                      load_interactions(demo_interactions_path()))
    assert rec.recommend("和咖啡类似的").anchor.sku == "KT-105"
    with pytest.raises(UnknownProductError):
        rec.recommend("和飞毯类似的")
    result = rec.recommend("给妈妈的礼物，50元以下")
    assert result.items and all(r.price <= 50 for r in result.items)
