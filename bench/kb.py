"""Knowledge retrieval and abstention benchmarks, printed, not asserted.

    .venv/bin/python bench/kb.py [stackfaq] [ecommerce] [abstention] [chinese] [latency] [--sweep]

- stackfaq: ../shared/data/stackfaq, 125 StackExchange entries, 250 crowd
  paraphrases: recall@1 / @5 of each signal alone and fused.
- ecommerce: ../shared/data/ecommerce_faq (79 entries) against our own
  English paraphrases and Chinese questions (bench/ecommerce_queries.jsonl).
- abstention: the same FAQ, answerable questions plus our own unanswerable
  ones (many near misses of a real entry): abstained / answered-correctly.
- chinese: our own 25-entry Chinese FAQ (bench/zh_faq.jsonl) against our own
  Chinese paraphrases and unanswerable questions (bench/zh_queries.jsonl).
- latency: retrieval time on a 1,000-product KB (amazon_catalog_sample), and
  time to the first streamed sentence and to the whole answer with the
  configured local model (SHOPKEEP_LM_MODEL to compare backends).
--sweep prints recall@1 for a grid of fusion weights (how the defaults in
knowledge/retrieval.py were chosen).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.documents import Passage, load_passages  # noqa: E402
from knowledge.retrieval import Retriever, Weights  # noqa: E402
from lm.language import has_chinese  # noqa: E402

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


@functools.cache  # built once when several benchmarks need it
def ecommerce_retriever() -> Retriever:
    """As the bot builds it: with the configured LM (SHOPKEEP_LM_MODEL), titles
    also get Chinese versions; SHOPKEEP_LM_MODEL=none measures without."""
    from bot.assembly import build_retriever, load_generator
    from bot.config import load_config

    config = load_config()
    generator, status = load_generator(config)
    print(f"(Chinese titles: {status if generator else 'none, no language model'})")
    try:
        return build_retriever(config, ecommerce_kb(), generator, progress=True)
    finally:
        if generator is not None:
            generator.close()


def ecommerce(sweep: bool) -> None:
    retriever = ecommerce_retriever()
    queries = [q for q in read_jsonl(ROOT / "bench" / "ecommerce_queries.jsonl") if q["relevant"]]
    english = [q for q in queries if not has_chinese(q["query"])]
    chinese = [q for q in queries if has_chinese(q["query"])]
    report("E-commerce FAQ, English paraphrases", retriever, english, sweep)
    report("E-commerce FAQ, Chinese questions", retriever, chinese, sweep)


def report_abstention(name: str, retriever: Retriever, queries: list[dict], lang: str) -> None:
    """Abstained share of the unanswerable queries, right-first-source share
    of the answerable ones, with the shipped abstention model."""
    from knowledge.answers import KnowledgeAnswerer

    answerer = KnowledgeAnswerer(retriever, "the store")
    results = [(q, answerer.retrieve(q["query"])) for q in queries]
    unanswerable = [a.abstained for q, a in results if not q["relevant"]]
    answerable = [not a.abstained and a.sources[0] in q["relevant"] for q, a in results if q["relevant"]]
    print(f"Abstention, {name} (probability threshold {answerer.answerability.threshold[lang]}): "
          f"{np.mean(unanswerable):.1%} of {len(unanswerable)} unanswerable abstained; {np.mean(answerable):.1%} of "
          f"{len(answerable)} answerable answered with the right first source")


def chinese(sweep: bool) -> None:
    """Our own Chinese FAQ (bench/zh_faq.jsonl, 25 entries) against our own
    Chinese paraphrases and unanswerable questions (bench/zh_queries.jsonl)."""
    retriever = Retriever(load_passages(ROOT / "bench" / "zh_faq.jsonl"), CACHE / "zh", progress=True)
    queries = read_jsonl(ROOT / "bench" / "zh_queries.jsonl")
    report("Chinese FAQ, Chinese paraphrases", retriever, [q for q in queries if q["relevant"]], sweep)
    report_abstention("Chinese FAQ", retriever, queries, "zh")


def abstention(sweep: bool) -> None:
    retriever = ecommerce_retriever()
    queries = read_jsonl(ROOT / "bench" / "ecommerce_queries.jsonl")
    for lang, name in (("en", "English"), ("zh", "Chinese")):
        report_abstention(name, retriever, [q for q in queries if has_chinese(q["query"]) == (lang == "zh")], lang)


def amazon_kb(limit: int = 1000) -> list[Passage]:
    import csv

    with open(SHARED / "amazon_catalog_sample" / "products.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:limit]
    return [Passage(f"amz{n:04d}", r["Product Name"], (r["About Product"] or r["Product Description"] or
                    r["Category"])[:1200], "amazon_catalog_sample", "product") for n, r in enumerate(rows)]


def latency(sweep: bool) -> None:
    """Retrieval on a 1,000-entry KB, and time to first streamed sentence /
    total with the default local model on the demo store."""
    import asyncio

    from bot.assembly import build_answerer, load_generator, load_retriever
    from bot.config import load_config

    kb = amazon_kb() + ecommerce_kb()
    retriever = Retriever(kb, CACHE / "amazon", progress=True)
    groups = {"shopper questions": [q["query"] for q in read_jsonl(ROOT / "bench" / "ecommerce_queries.jsonl")],
              # long texts: the multilingual encoder's time grows with the tokens
              "product titles as queries": [p.title for p in kb[:100]]}
    for name, queries in groups.items():
        times = []
        for q in queries * 2:
            started = time.perf_counter()
            retriever.search(q, 5)
            times.append((time.perf_counter() - started) * 1000)
        print(f"Retrieval, {len(kb)} passages, {len(queries)} {name} (each twice): median {np.median(times):.1f} ms, "
              f"p95 {np.percentile(times, 95):.1f} ms")

    config = load_config()
    generator, status = load_generator(config)
    answerer = build_answerer(config, load_retriever(config), generator)
    questions = ["how long does shipping take?", "is shipping free?", "what is your return policy?",
                 "can I pay with paypal?", "do you ship internationally?", "how do I return an item?",
                 "when will I get my refund?", "can I cancel my order?", "do you have a physical store?",
                 "are returns free?", "how do I reset my password?", "do you sell gift cards?"]

    async def run_all():
        first, total, streamed = [], [], 0
        for q in questions:
            started, seen = time.perf_counter(), []

            async def on_text(text, seen=seen, started=started):
                seen.append(time.perf_counter() - started)

            answer = await answerer.answer(q, on_text=on_text)
            total.append(time.perf_counter() - started)
            first.append(seen[0] if seen else total[-1])
            streamed += answer.generated
        return first, total, streamed

    first, total, streamed = asyncio.run(run_all())
    print(f"Answers with {status}, {len(questions)} questions ({streamed} LM-written, the rest verbatim): "
          f"first sentence median {np.median(first):.2f} s, total median {np.median(total):.2f} s, "
          f"p95 {np.percentile(total, 95):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", default=["stackfaq", "ecommerce", "abstention"])
    parser.add_argument("--sweep", action="store_true", help="print recall@1 over a grid of fusion weights")
    args = parser.parse_args()
    for name in args.benchmarks:
        {"stackfaq": stackfaq, "ecommerce": ecommerce, "abstention": abstention, "chinese": chinese,
         "latency": latency}[name](args.sweep)


if __name__ == "__main__":
    main()
