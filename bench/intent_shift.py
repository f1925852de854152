"""Intent accuracy under a shift of style: the usual random split and a shifted set.

    .venv/bin/python bench/intent_shift.py --set bitext|clinc150
        [--variant frozen finetune finetune-1epoch ...] [--reuse]

A random split of a training file flatters whatever fits that file's style
best: Bitext's test part comes from the same templates as its training part.
A store's customers write otherwise, so each model is also measured on a
shifted set, bench/shifted/<set>.csv: utterances for the same intents written
for this benchmark in other styles (short, chatty, misspelt, indirect, with
product names), not taken from the data sets.

Each variant is trained once, with the same code as `shopkeep nlu train`
(bench/nlu.py's data loaders and split, bot.nlu.training.train_model), and
measured with the same code as `shopkeep nlu test` on both test sets:
in-scope accuracy, out-of-scope recall (where the set has out-of-scope rows)
and the time per message, one message at a time. Models are kept under
$SHOPKEEP_DATA_DIR/bench/nlu/<set>/shift/<variant>/; --reuse measures the one
already there instead of training again.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.nlu.finetune  # noqa: E402
from bench.nlu import WORK, bitext, clinc150, write_csv  # noqa: E402
from bot.nlu.evaluation import Evaluation, evaluate  # noqa: E402
from bot.nlu.interpreter import Interpreter  # noqa: E402
from bot.nlu.training import train_model  # noqa: E402
from bot.nlu.training_data import load_csv  # noqa: E402
from lm.embeddings import get_encoder  # noqa: E402

SHIFTED = ROOT / "bench" / "shifted"
SETS = {"bitext": bitext, "clinc150": clinc150}

# Variant name -> (fine-tune?, keyword arguments for finetune_encoder over its defaults).
VARIANTS: dict[str, tuple[bool, dict]] = {
    "frozen": (False, {}),  # the packaged MiniLM as it is, with the linear head
    "finetune": (True, {}),  # bot/nlu/finetune.py's own settings
    "finetune-1epoch": (True, {"epochs": 1}),  # gentler: a third of the training
}


@contextmanager
def finetune_settings(overrides: dict):
    """train_model imports finetune_encoder when it needs it, so a patched
    module attribute is what it calls."""
    if not overrides:
        yield
        return
    tuned = functools.partial(bot.nlu.finetune.finetune_encoder, **overrides)
    with mock.patch.object(bot.nlu.finetune, "finetune_encoder", tuned):
        yield


def measure(directory: Path, test_file: Path) -> Evaluation:
    get_encoder.cache_clear()
    interpreter = Interpreter.load(directory)
    test = load_csv(test_file)
    examples = test.examples + test.out_of_scope
    return evaluate(interpreter, [e.text for e in examples], [e.intent for e in examples])


def row(set_name: str, variant: str, part: str, result: Evaluation) -> str:
    oos = f"{result.oos_recall:6.1%}" if result.oos_recall is not None else "     -"
    return (f"| {set_name} | {variant} | {part} ({result.examples}) | {result.in_scope_accuracy:6.1%} | {oos} "
            f"| {result.median_ms:.1f} / {result.p95_ms:.1f} ms |")


def run(set_name: str, variants: list[str], reuse: bool, details: bool) -> list[str]:
    shifted = SHIFTED / f"{set_name}.csv"
    if not shifted.exists():
        raise SystemExit(f"{shifted} is missing")
    train_rows, test_rows = SETS[set_name]()
    train_file = write_csv(WORK / set_name / "train.csv", train_rows)
    test_file = write_csv(WORK / set_name / "test.csv", test_rows)
    lines = []
    for variant in variants:
        tune, overrides = VARIANTS[variant]
        started = time.monotonic()
        with finetune_settings(overrides):
            directory = train_model(train_file, WORK / set_name / "shift" / variant, lang="en", finetune=tune,
                                    progress=False, force=not reuse)
        train_s = time.monotonic() - started
        print(f"\n== {set_name} / {variant}: {directory} ({train_s:.0f} s to train or find)")
        for part, path in (("random split", test_file), ("shifted", shifted)):
            result = measure(directory, path)
            if details:
                print(f"-- {part}\n{result.text()}")
            lines.append(row(set_name, variant, part, result))
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="sets", nargs="+", choices=list(SETS), default=list(SETS),
                        metavar="SET", help=f"any of {', '.join(SETS)}: the training data and its shifted set "
                                            "(default: both)")
    parser.add_argument("--variant", dest="variants", nargs="+", choices=list(VARIANTS),
                        default=["frozen", "finetune"], metavar="VARIANT",
                        help=f"any of {', '.join(VARIANTS)}: the encoder training to compare (default: frozen "
                             "finetune); fine-tuning CLINC150 takes about 8 minutes on 2 cores")
    parser.add_argument("--reuse", action="store_true", help="measure the model trained before, if there is one")
    parser.add_argument("--details", action="store_true", help="also print macro-F1 and the most confused intents")
    args = parser.parse_args()
    lines = []
    for set_name in args.sets:
        lines += run(set_name, args.variants, args.reuse, args.details)
    print("\n| set | encoder | test part (rows) | in-scope accuracy | out-of-scope recall | time per message "
          "(median / p95) |\n|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
