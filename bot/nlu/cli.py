"""`shopkeep nlu train | predict | test`: the intent layer on its own.

These commands are the contract benchmarks and independent checks use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bot.nlu.model_store import ModelStoreError
from bot.nlu.training_data import TrainingDataError, load_training_data


def read_texts(path: Path) -> list[str]:
    """One JSON object with a "text" key per line, or one plain text per line."""
    texts = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("{"):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
                if not isinstance(row.get("text"), str):
                    raise ValueError(f"{path}:{number}: expected a \"text\" string")
                texts.append(row["text"])
            elif line.strip():
                texts.append(line)
    return texts


def cmd_train(args: argparse.Namespace) -> int:
    from bot.nlu.training import train_model

    started = time.monotonic()
    directory = train_model(args.data, Path(args.out), lang=args.lang, encoder=args.encoder,
                            finetune=args.finetune, threshold=args.threshold, force=args.force,
                            strict=args.strict)
    meta = json.loads((directory / "meta.json").read_text())
    print(f"model: {directory}")
    for route, spec in meta["routes"].items():
        calibration = spec["calibration"]
        held_out = ""
        if calibration["heldout_accuracy"] is not None:
            held_out = f", held-out accuracy {calibration['heldout_accuracy']:.4f}"
        if calibration["heldout_oos_recall"] is not None:
            held_out += f", held-out out-of-scope recall {calibration['heldout_oos_recall']:.4f}"
        print(f"route {route}: {len(spec['labels'])} intents, encoder {meta['settings']['routes'][route]}"
              f"{' (fine-tuned)' if spec['encoder'] == 'encoder' else ''}; out-of-scope threshold "
              f"{calibration['threshold']:.3f} ({calibration['source']}){held_out}")
    print(f"took {time.monotonic() - started:.1f} s")
    return 0


def _load(model: str):
    from bot.nlu.interpreter import Interpreter
    from bot.nlu.model_store import latest_model

    directory = Path(model)
    if not (directory / "meta.json").exists():  # a folder of versions: take the newest
        directory = latest_model(directory) or directory
    return Interpreter.load(directory)


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    interpreter = _load(args.model)
    texts = read_texts(Path(args.inp))
    with open(args.out, "w", encoding="utf-8") as out:
        for i in tqdm(range(0, len(texts), 128), desc="predicting", disable=len(texts) < 1000):
            for parse in interpreter.parse_batch(texts[i:i + 128]):
                row = {"text": parse["text"], "intent": parse["intent"]["name"],
                       "confidence": round(parse["intent"]["confidence"], 6),
                       "ranking": [[r["name"], round(r["confidence"], 6)] for r in parse["intent_ranking"][:5]],
                       "entities": parse["entities"]}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(texts)} predictions -> {args.out}", file=sys.stderr)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from bot.nlu.evaluation import evaluate

    data = load_training_data(args.data)
    examples = data.examples + data.out_of_scope
    interpreter = _load(args.model)
    result = evaluate(interpreter, [e.text for e in examples], [e.intent for e in examples], progress=True)
    print(result.text())
    return 0


def add_nlu_commands(sub: argparse._SubParsersAction) -> None:
    nlu = sub.add_parser("nlu", help="train, run and measure the intent layer",
                         description="The intent layer on its own: train a model from Rasa NLU YAML or CSV, "
                                     "predict intents for a file of texts, measure a model on labelled data.")
    commands = nlu.add_subparsers(dest="nlu_command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train an intent model into a versioned directory",
                                description="Train an intent model. DATA is Rasa NLU YAML (.yml) or CSV with a "
                                            "header whose first two columns are text and intent; rows with intent "
                                            "nlu_fallback or oos are out-of-scope examples. Writes "
                                            "OUT/<time>-<fingerprint>/; nothing is trained when a model for the "
                                            "same data and settings exists there.")
    train.add_argument("--data", required=True, type=Path,
                       help="training data: a .yml or .csv file, or a folder (its YAML files with nlu:)")
    train.add_argument("--out", required=True, help="models folder; each training adds a version inside")
    train.add_argument("--lang", default="auto", choices=["en", "zh", "auto"],
                       help="language of the data: picks the encoder (default: auto, from the data)")
    train.add_argument("--encoder", help="override the encoder (packaged:NAME, a directory or a hub id)")
    train.add_argument("--finetune", action=argparse.BooleanOptionalAction, default=None,
                       help="fine-tune the English encoder on the intents (default: no; it helps on text like "
                            "the training data, not on other styles; about 8 minutes for 15,000 on 2 cores)")
    train.add_argument("--threshold", type=float,
                       help="out-of-scope confidence threshold (default: chosen on held-out data)")
    train.add_argument("--force", action="store_true", help="train even if an identical model exists")
    train.add_argument("--strict", action="store_true",
                       help="refuse data with an example under two intents (by default: a warning naming both "
                            "lines, and the example is left out of both, as Rasa warns)")
    train.set_defaults(func=cmd_train)

    predict = commands.add_parser("predict", help="predict intents and entities for a file of texts",
                                  description="Reads one JSON object with a \"text\" key per line (or one text per "
                                              "line); writes one JSON object per line, in input order: text, "
                                              "intent, confidence, ranking (top 5), entities.")
    predict.add_argument("--model", required=True, help="a model directory, or a models folder (newest is used)")
    predict.add_argument("--in", dest="inp", required=True, help="input file")
    predict.add_argument("--out", required=True, help="output JSON-lines file")
    predict.set_defaults(func=cmd_predict)

    test = commands.add_parser("test", help="measure a model on labelled data",
                               description="Prints accuracy, in-scope accuracy, macro-F1, out-of-scope recall and "
                                           "precision, the most confused intents, and the median and p95 time per "
                                           "message (one message at a time).")
    test.add_argument("--model", required=True, help="a model directory, or a models folder (newest is used)")
    test.add_argument("--data", required=True, type=Path, help="labelled data (.csv with text,intent; or .yml)")
    test.set_defaults(func=cmd_test)


NLU_ERRORS = (TrainingDataError, ModelStoreError, ValueError, FileNotFoundError)
