"""Knowledge retrieval and abstention benchmarks, printed, not asserted.

    .venv/bin/python bench/kb.py [stackfaq] [ecommerce] [abstention] [--sweep]

- stackfaq: ../shared/data/stackfaq, 125 StackExchange entries, 250 crowd
  paraphrases: recall@1 / @5 of each signal alone and fused.
- ecommerce: ../shared/data/ecommerce_faq (79 entries) against our own
  English paraphrases and Chinese questions (bench/ecommerce_queries.jsonl).
- abstention: the same FAQ, answerable questions plus our own unanswerable
  ones (many near misses of a real entry): abstained / answered-correctly.
--sweep prints recall@1 for a grid of fusion weights (how the defaults in
knowledge/retrieval.py were chosen).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.documents import Passage, load_passages  # noqa: E402
from knowledge.retrieval import Retriever, Weights, has_chinese  # noqa: E402

SHARED = Path(os.environ.get("SHOPKEEP_SHARED_DATA", ROOT.parent / "shared" / "data"))
CACHE = Path(os.environ.get("SHOPKEEP_DATA_DIR", ROOT / "data")) / "bench" / "knowledge"
ONLY = {"bm25": Weights(1, 0, 0), "minilm": Weights(0, 1, 0), "e5": Weights(0, 0, 1)}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def recall(retriever: Retriever, queries: list[dict], weights: Weights | None, k: int = 1) -> float:
    hits = 0
    for q in queries:
        if "_signals" not in q:  # computed once per query, whatever the weights
            q["_signals"] = retriever.signals(q["query"])
        found = [h.passage.id for h in retriever.rank(q["query"], q["_signals"], k, weights)]
        hits += bool(set(found) & set(q["relevant"]))
    return hits / len(queries)


def report(name: str, retriever: Retriever, queries: list[dict], sweep: bool) -> None:
    started = time.perf_counter()
    for q in queries:
        retriever.search(q["query"], 5)
    ms = (time.perf_counter() - started) / len(queries) * 1000
    r1, r5 = recall(retriever, queries, None, 1), recall(retriever, queries, None, 5)
    print(f"{name}: {len(queries)} queries, fused recall@1 {r1:.3f}, recall@5 {r5:.3f} ({ms:.1f} ms a query)")
    for signal, w in ONLY.items():
        print(f"  {signal} alone: recall@1 {recall(retriever, queries, w):.3f}")
    if sweep:
        grid = [(b, e, round(1 - b - e, 2)) for b in np.arange(0, 1.01, 0.1) for e in np.arange(0, 1.01 - b, 0.1)]
        results = sorted(((recall(retriever, queries, Weights(*w)), w) for w in grid), reverse=True)
        for score, w in results[:8]:
            print(f"  bm25 {w[0]:.1f} minilm {w[1]:.1f} e5 {w[2]:.1f}: recall@1 {score:.3f}")


def stackfaq(sweep: bool) -> None:
    kb = load_passages(SHARED / "stackfaq" / "kb.jsonl")
    retriever = Retriever(kb, CACHE / "stackfaq", progress=True)
    report("StackFAQ", retriever, read_jsonl(SHARED / "stackfaq" / "queries.jsonl"), sweep)


def ecommerce_kb() -> list[Passage]:
    rows = json.loads((SHARED / "ecommerce_faq" / "faq.json").read_text(encoding="utf-8"))["questions"]
    return [Passage(f"faq{n:02d}", r["question"], r["answer"], "ecommerce_faq", "faq") for n, r in enumerate(rows, 1)]


def ecommerce(sweep: bool) -> None:
    retriever = Retriever(ecommerce_kb(), CACHE / "ecommerce", progress=True)
    queries = [q for q in read_jsonl(ROOT / "bench" / "ecommerce_queries.jsonl") if q["relevant"]]
    english = [q for q in queries if not has_chinese(q["query"])]
    chinese = [q for q in queries if has_chinese(q["query"])]
    report("E-commerce FAQ, English paraphrases", retriever, english, sweep)
    report("E-commerce FAQ, Chinese questions", retriever, chinese, sweep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", default=["stackfaq", "ecommerce"])
    parser.add_argument("--sweep", action="store_true", help="print recall@1 over a grid of fusion weights")
    args = parser.parse_args()
    for name in args.benchmarks:
        {"stackfaq": stackfaq, "ecommerce": ecommerce}[name](args.sweep)


if __name__ == "__main__":
    main()
