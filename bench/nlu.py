"""Intent-layer benchmarks on public data sets (../shared/data), printed, not asserted.

    .venv/bin/python bench/nlu.py [banking77 clinc150 bitext zh] [--finetune | --no-finetune] [--lang en|zh|auto]

Each benchmark writes its own train/test split as CSV under
$SHOPKEEP_DATA_DIR/bench/nlu/ (the official test splits are kept aside for
independent checks, so the test part is held out from the public training
data), trains with the same code as `shopkeep nlu train`, and measures
with the same code as `shopkeep nlu test`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.evaluation import evaluate  # noqa: E402
from bot.nlu.interpreter import Interpreter  # noqa: E402
from bot.nlu.training import train_model  # noqa: E402
from bot.nlu.training_data import load_csv  # noqa: E402
from lm.embeddings import get_encoder  # noqa: E402

SHARED = Path(os.environ.get("SHOPKEEP_SHARED_DATA", ROOT.parent / "shared" / "data"))
WORK = Path(os.environ.get("SHOPKEEP_DATA_DIR", ROOT / "data")) / "bench" / "nlu"


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
    return path


def stratified_split(rows: list[tuple[str, str]], fraction: float, seed: int = 42):
    by_label = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    rng = random.Random(seed)
    train, test = [], []
    for label in sorted(by_label):
        items = by_label[label]
        rng.shuffle(items)
        n = max(1, round(len(items) * fraction))
        test += items[:n]
        train += items[n:]
    return train, test


def read_rows(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return [(r[0], r[1]) for r in reader if len(r) >= 2]


def banking77():
    return stratified_split(read_rows(SHARED / "banking77" / "train.csv"), 0.1)


def bitext():
    return stratified_split(read_rows(SHARED / "bitext_ecommerce" / "train.csv"), 0.15)


def clinc150():
    data = json.loads((SHARED / "clinc150" / "data_train_val.json").read_text())
    train = [(t, i) for t, i in data["train"]] + [(t, "oos") for t, _ in data["oos_train"]]
    test = [(t, i) for t, i in data["val"]] + [(t, "oos") for t, _ in data["oos_val"]]
    return train, test


def zh():
    """The demo store's intents in Chinese: trained on the demo nlu.yml
    (English and Chinese examples), tested on bench/zh_intents_test.csv."""
    return None, read_rows(ROOT / "bench" / "zh_intents_test.csv")


BENCHMARKS = {"banking77": banking77, "clinc150": clinc150, "bitext": bitext, "zh": zh}


def run(name: str, finetune: bool | None, lang: str) -> None:
    train_rows, test_rows = BENCHMARKS[name]()
    train_file = ROOT / "bot" / "demo" / "nlu.yml" if train_rows is None else write_csv(WORK / name / "train.csv",
                                                                                        train_rows)
    test_file = write_csv(WORK / name / "test.csv", test_rows)
    started = time.monotonic()
    directory = train_model(train_file, WORK / name / "models", lang=lang, finetune=finetune, force=True)
    train_s = time.monotonic() - started
    get_encoder.cache_clear()  # measure a cold load, as at start-up
    started = time.monotonic()
    interpreter = Interpreter.load(directory)
    load_s = time.monotonic() - started
    test = load_csv(test_file)
    examples = test.examples + test.out_of_scope
    result = evaluate(interpreter, [e.text for e in examples], [e.intent for e in examples])
    meta = json.loads((directory / "meta.json").read_text())
    print(f"\n== {name}: train {len(train_rows) if train_rows else 'demo nlu.yml'} rows, test {len(test_rows)} rows, "
          f"routes {meta['settings']['routes']}{' fine-tuned' if meta['settings']['finetune'] else ''}")
    thresholds = ", ".join(f"{r} {s['calibration']['threshold']:.3f}" for r, s in meta["routes"].items())
    print(f"training {train_s:.0f} s, model load {load_s:.2f} s, threshold {thresholds}")
    print(result.text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--finetune", action=argparse.BooleanOptionalAction, default=None,
                        help="fine-tune the English encoder (default: as `shopkeep nlu train`, for 1,000+ examples)")
    parser.add_argument("--lang", default="auto", choices=["en", "zh", "auto"])
    args = parser.parse_args()
    for name in args.names:
        run(name, args.finetune, args.lang)


if __name__ == "__main__":
    main()
