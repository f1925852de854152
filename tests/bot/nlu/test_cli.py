"""`shopkeep nlu train | predict | test`, run as a store owner or a benchmark would."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration
NLU = [sys.executable, "-m", "bot.cli", "nlu"]

DATA = """text,intent
hi,greet
hello there,greet
good morning,greet
hey,greet
where is my order,order_status
has my parcel shipped,order_status
track my package,order_status
when will my order arrive,order_status
I want a refund,refund
give me my money back,refund
how do I get a refund,refund
refund please,refund
what's the weather in Paris,oos
play some jazz,oos
"""


def run(*args):
    return subprocess.run(NLU + list(args), capture_output=True, text=True, timeout=300)


def test_train_predict_test(tmp_path):
    (tmp_path / "train.csv").write_text(DATA)
    out = run("train", "--data", str(tmp_path / "train.csv"), "--out", str(tmp_path / "models"), "--lang", "en")
    assert out.returncode == 0, out.stderr
    assert "model:" in out.stdout and "out-of-scope threshold" in out.stdout
    again = run("train", "--data", str(tmp_path / "train.csv"), "--out", str(tmp_path / "models"), "--lang", "en")
    assert again.stdout.split("\n")[0] == out.stdout.split("\n")[0]  # same model, not trained twice

    (tmp_path / "in.jsonl").write_text('{"text": "hello!"}\n{"text": "where is order SK-1002?"}\n'
                                       '{"text": ""}\n{"text": "🙂🙂"}\n')
    (tmp_path / "in.txt").write_text("refund my money\n\nwhere's my parcel\n")
    for name in ("in.jsonl", "in.txt"):
        out = run("predict", "--model", str(tmp_path / "models"), "--in", str(tmp_path / name),
                  "--out", str(tmp_path / "out.jsonl"))
        assert out.returncode == 0, out.stderr
        rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert all(set(r) == {"text", "intent", "confidence", "ranking", "entities"} for r in rows)
        assert all(len(r["ranking"]) <= 5 and isinstance(r["ranking"][0], list) for r in rows)
    assert [r["text"] for r in rows] == ["refund my money", "where's my parcel"]
    assert [r["intent"] for r in rows] == ["refund", "order_status"]

    (tmp_path / "test.csv").write_text("text,intent\nhowdy,greet\nwhere's my stuff,order_status\n"
                                       "money back please,refund\nbook a flight to Rome,oos\n")
    out = run("test", "--model", str(tmp_path / "models"), "--data", str(tmp_path / "test.csv"))
    assert out.returncode == 0, out.stderr
    for line in ("accuracy", "macro-F1", "out-of-scope recall", "out-of-scope precision", "p95"):
        assert line in out.stdout


def test_bad_training_data_is_one_clear_line(tmp_path):
    (tmp_path / "nlu.yml").write_text("nlu:\n- intent: a\n  examples: |\n    - hi\n  - : [\n")
    out = run("train", "--data", str(tmp_path / "nlu.yml"), "--out", str(tmp_path / "m"))
    assert out.returncode == 2 and "nlu.yml:" in out.stderr and "invalid YAML" in out.stderr
    out = run("predict", "--model", str(tmp_path / "m"), "--in", str(tmp_path / "missing.jsonl"),
              "--out", str(tmp_path / "o"))
    assert out.returncode == 2
