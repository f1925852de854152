"""`shopkeep recommend eval`: output format, exclusion of seen items, metrics, malformed input."""

from __future__ import annotations

import argparse
import json

import pytest

from knowledge.recommend_cli import add_recommend_commands
from knowledge.recommender import InteractionError


def parse(argv):
    parser = argparse.ArgumentParser(prog="shopkeep")
    add_recommend_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def review(user, asin, t):
    return {"reviewerID": user, "asin": asin, "overall": 5.0, "unixReviewTime": t, "summary": "ok"}


@pytest.fixture
def files(tmp_path):
    train = [review(u, i, 1) for u in ("a", "b", "c") for i in ("x", "y")] + [review("d", "x", 1),
                                                                                review("e", "z", 1)]
    test = [{"reviewerID": "d", "asin": "y", "unixReviewTime": 2}, {"reviewerID": "e", "asin": "x",
                                                                       "unixReviewTime": 2}]
    return write(tmp_path / "train.jsonl", train), write(tmp_path / "test.jsonl", test)


def test_eval_writes_unseen_items_and_prints_metrics(files, tmp_path, capsys):
    train, test = files
    out = tmp_path / "recs.jsonl"
    args = parse(["recommend", "eval", "--train", str(train), "--test", str(test), "--k", "2", "--out", str(out)])
    assert args.func(args, None) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) == {"hr@2", "ndcg@2", "popularity_hr@2"}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["reviewerID"] for line in lines} == {"d", "e"}
    recs = {line["reviewerID"]: line["items"] for line in lines}
    assert "x" not in recs["d"] and recs["d"][0] == "y"  # seen item excluded; bought together ranks first
    assert "z" not in recs["e"]
    assert metrics["hr@2"] == 1.0


def test_malformed_line_names_file_and_line(files, tmp_path):
    train, test = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(train.read_text() + '{"reviewerID": "q"}\n', encoding="utf-8")
    args = parse(["recommend", "eval", "--train", str(bad), "--test", str(test), "--out", str(tmp_path / "o")])
    with pytest.raises(InteractionError, match=r"bad.jsonl:9"):
        args.func(args, None)
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(InteractionError, match=r"bad.jsonl:1: invalid JSON"):
        args.func(args, None)


def test_catalog_is_checked(files, tmp_path):
    import gzip

    train, test = files
    catalog = tmp_path / "catalog.json.gz"
    with gzip.open(catalog, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"asin": "x", "title": "X"}) + "\n" + json.dumps({"title": "no asin"}) + "\n")
    args = parse(["recommend", "eval", "--train", str(train), "--test", str(test), "--catalog", str(catalog),
                  "--out", str(tmp_path / "o")])
    with pytest.raises(InteractionError, match=r"catalog.json.gz:2"):
        args.func(args, None)


def test_k_must_be_positive(files, tmp_path):
    train, test = files
    with pytest.raises(SystemExit):
        parse(["recommend", "eval", "--train", str(train), "--test", str(test), "--k", "0", "--out", "o"])
