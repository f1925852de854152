"""`shopkeep reviews predict|summarize`, through the parser that bot/cli.py builds from add_review_commands."""

import argparse
import json
from types import SimpleNamespace

import pytest

from knowledge.reviews_cli import add_review_commands

pytestmark = pytest.mark.integration  # loads the shipped sentiment heads

CATALOG = [
    {"sku": "MUG-1", "name": "Mug", "price": 12.0, "reviews": [
        {"rating": 5, "text": "Great quality, feels solid."},
        {"rating": 4, "text": "Good quality and it arrived quickly."},
        {"rating": 2, "text": "Too expensive for a mug."}]},
    {"sku": "TEA-1", "name": "绿茶", "price": 30.0, "reviews": [
        {"rating": 5, "text": "味道很好，很香"}, {"rating": 4, "text": "物流很快，包装很好"}]},
    {"sku": "NEW-1", "name": "New thing", "price": 1.0},
]


def run(argv, catalog=None):
    parser = argparse.ArgumentParser(prog="shopkeep")
    add_review_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, SimpleNamespace(knowledge=SimpleNamespace(catalog=catalog)))


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "products.json"
    path.write_text(json.dumps(CATALOG, ensure_ascii=False), encoding="utf-8")
    return path


def test_predict_keeps_order_and_reports_bad_lines(tmp_path):
    lines = ['{"text": "Love it, works perfectly."}', "Broke on day one. Avoid.", "", '{"text": "Отличный товар"}',
             '{"text": "质量很好，推荐购买"}', '{"review": "no text key"}', "{not json", '{"text": "   "}',
             "太差劲了，退货"]
    src, out = tmp_path / "in.jsonl", tmp_path / "out" / "pred.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run(["reviews", "predict", "--in", str(src), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(lines)
    assert [r["label"] for r in rows] == ["positive", "negative", None, None, "positive", None, None, None,
                                          "negative"]
    assert rows[0]["text"] == "Love it, works perfectly." and rows[8]["text"] == "太差劲了，退货"
    assert rows[2]["error"] == "empty review" and "unsupported language" in rows[3]["error"]
    assert rows[5]["error"] == 'no "text" string in this line' and "invalid JSON" in rows[6]["error"]
    assert all(set(r) >= {"text", "label", "score"} for r in rows)
    assert all(r["score"] is None or -1 <= r["score"] <= 1 for r in rows)


def test_summarize_from_configured_catalog(catalog, capsys):
    assert run(["reviews", "summarize", "--product", "MUG-1"], catalog=catalog) == 0
    text = capsys.readouterr().out
    assert text.startswith("3 reviews, mostly positive (3.7/5).") and "quality" in text
    assert "fit" not in text and "taste" not in text


def test_summarize_language(catalog, capsys):
    assert run(["reviews", "summarize", "--product", "TEA-1"], catalog=catalog) == 0
    assert capsys.readouterr().out.startswith("共2条评价，大多好评（平均4.5/5）。")
    assert run(["reviews", "summarize", "--product", "TEA-1", "--lang", "en"], catalog=catalog) == 0
    assert capsys.readouterr().out.startswith("2 reviews, mostly positive (4.5/5).")


def test_summarize_product_without_reviews(catalog, capsys):
    assert run(["reviews", "summarize", "--product", "NEW-1"], catalog=catalog) == 0
    assert capsys.readouterr().out.strip() == "No reviews yet."


def test_unknown_product_is_a_clear_error(catalog, capsys):
    assert run(["reviews", "summarize", "--product", "NOPE"], catalog=catalog) == 2
    assert "no product 'NOPE'" in capsys.readouterr().err


def test_no_catalog_configured(capsys):
    assert run(["reviews", "summarize", "--product", "MUG-1"]) == 2
    assert "no catalog configured" in capsys.readouterr().err
