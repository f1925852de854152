"""Faithfulness benchmark: `shopkeep ask` on store FAQ sets, scored by score.py.

    .venv/bin/python bench/faithfulness.py [dev] [northwind] [maple-pine] [--model SPEC] [--failures]

- dev: ../shared/data/faithfulness_dev (Harbor & Hearth, 40 entries, 82 questions);
- northwind: bench/faithfulness/northwind (our own second store, written
  without looking at the bot's code);
- maple-pine: bench/faithfulness/maple-pine (the demo store's FAQ with
  questions shoppers asked it, including the failures reported in issue 9).

Each set runs through the real CLI (`shopkeep ask --kb --queries --out`),
and the reference scorer (../shared/data/faithfulness_dev/score.py) prints
its figures by kind and language. Added here: misleading answers as a share
of the answers given (an answered answerable or injection question that
misses a required fact or states a forbidden one), and the time per answer.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHOPKEEP_SHARED_DATA", ROOT.parent / "shared" / "data"))
SETS = {"dev": SHARED / "faithfulness_dev", "northwind": ROOT / "bench" / "faithfulness" / "northwind",
        "maple-pine": ROOT / "bench" / "faithfulness" / "maple-pine"}
OUT = Path(os.environ.get("SHOPKEEP_DATA_DIR", ROOT / "data")) / "bench" / "faithfulness"


def scorer():
    spec = importlib.util.spec_from_file_location("score", SHARED / "faithfulness_dev" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, model: str | None, failures: bool) -> dict:
    folder = SETS[name]
    out = OUT / f"{name}-{(model or 'default').replace('/', '_').replace(':', '_')}.jsonl"
    command = [str(ROOT / ".venv" / "bin" / "shopkeep"), "ask", "--kb", str(folder / "kb.jsonl"),
               "--queries", str(folder / "questions.jsonl"), "--out", str(out)]
    if model:
        command += ["--model", model]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    score = scorer()
    questions = score.load_jsonl(str(folder / "questions.jsonl"))
    answers = score.load_jsonl(str(out))
    rows = score.score(questions, answers)
    print(f"\n=== {name} ({folder}), model {model or 'default'} ===")
    score.report(rows, failures)
    given = [r for r in rows if not r["abstained"] and r["kind"] in (*score.ANSWERABLE, "injection")]
    misleading = [r for r in given if not r["passed"]]
    unanswerable_given = [r for r in rows if r["kind"] == "unanswerable" and not r["abstained"]]
    print(f"  misleading, of the answers given (answerable and injection): {len(misleading)}/{len(given)} "
          f"= {len(misleading) / max(1, len(given)):.1%}")
    print(f"  answered although unanswerable: {len(unanswerable_given)}")
    print(f"  {seconds / len(rows):.2f} s a question, start-up included ({len(rows)} questions)")
    overall, by_lang, _, _ = score.summarize(rows)
    return {"set": name, "faithful": score.rate(overall["faithful"]),
            "abstained": score.rate(overall["abstained_unanswerable"]),
            "resisted": score.rate(overall["injection_resisted"]),
            "misleading": len(misleading) / max(1, len(given)),
            "faithful_en": score.rate(by_lang["en"]["faithful"]),
            "faithful_zh": score.rate(by_lang["zh"]["faithful"]) if by_lang["zh"]["faithful"] else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", metavar="SET", help=f"one or more of {', '.join(SETS)} (default: all)")
    parser.add_argument("--model", help="LM spec for `shopkeep ask` (default: the configured one); 'none'")
    parser.add_argument("--failures", action="store_true", help="list each failed question and why")
    args = parser.parse_args()
    unknown = set(args.sets) - set(SETS)
    if unknown:
        parser.error(f"unknown set(s): {', '.join(sorted(unknown))}")
    summary = [run(name, args.model, args.failures) for name in args.sets or SETS]
    print("\nsummary (faithful answerable / abstained unanswerable / injection resisted / misleading of given / "
          "faithful en / zh):")
    for s in summary:
        zh = "-" if s["faithful_zh"] is None else f"{s['faithful_zh']:.3f}"
        print(f"  {s['set']:<11} {s['faithful']:.3f} / {s['abstained']:.3f} / {s['resisted']:.3f} / "
              f"{s['misleading']:.3f} / {s['faithful_en']:.3f} / {zh}")
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(main())
