"""`shopkeep reviews predict` (sentiment of review texts) and
`shopkeep reviews summarize` (a product's reviews from the catalog, summarised)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.cli import read_lines

CHUNK = 512  # texts scored per call, so a large file shows progress and memory stays flat


def read_review_lines(path: Path) -> list[tuple[str, str | None]]:
    """(text, problem) per line, in order: a line is a JSON object with a
    "text" string or a plain text. A line that cannot be read becomes
    ("", why) instead of stopping the file, so the output keeps the order."""
    lines = read_lines(path)
    rows: list[tuple[str, str | None]] = []
    for line in lines:
        if line.lstrip().startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append((line, f"invalid JSON: {exc.msg}"))
                continue
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                rows.append(("", 'no "text" string in this line'))
            else:
                rows.append((row["text"], None))
        else:
            rows.append((line, None))
    return rows


def cmd_predict(args: argparse.Namespace, config) -> int:
    from tqdm import tqdm

    from lm.sentiment import SentimentAnalyser

    rows = read_review_lines(Path(args.input))
    analyser = SentimentAnalyser(args.model) if args.model else SentimentAnalyser()
    texts = [text for text, _ in rows]
    results = []
    with tqdm(total=len(texts), desc="scoring reviews", unit="review", disable=len(texts) < CHUNK,
              file=sys.stderr) as bar:
        for start in range(0, len(texts), CHUNK):
            results.extend(analyser.run(texts[start:start + CHUNK]))
            bar.update(len(texts[start:start + CHUNK]))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    problems = 0
    with open(out, "w", encoding="utf-8") as f:
        for (text, problem), result in zip(rows, results):
            line = {"text": text, "label": result.label, "score": result.score}
            if problem or result.error:
                line["error"] = problem or result.error
                line["label"] = line["score"] = None
                problems += 1
            elif result.lang:
                line["lang"] = result.lang
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{len(rows)} reviews scored into {out}" + (f"; {problems} could not be scored (see \"error\")"
                                                      if problems else ""), file=sys.stderr)
    return 0


def cmd_summarize(args: argparse.Namespace, config) -> int:
    from knowledge.catalog import load_catalog
    from lm.aspects import summarize
    from lm.language import has_chinese

    path = args.catalog or config.knowledge.catalog
    if path is None:
        print("shopkeep reviews: no catalog configured (knowledge.catalog) and no --catalog given", file=sys.stderr)
        return 2
    products = {p.sku: p for p in load_catalog(path)}
    product = products.get(args.product)
    if product is None:
        print(f"shopkeep reviews: no product {args.product!r} in {path} ({len(products)} products)",
              file=sys.stderr)
        return 2
    lang = args.lang
    if lang is None:  # the language most of its reviews are written in
        chinese = sum(has_chinese(r.text) for r in product.reviews)
        lang = "zh" if product.reviews and chinese > len(product.reviews) / 2 else "en"
    print(summarize(product.reviews, lang))
    return 0


def add_review_commands(sub: argparse._SubParsersAction) -> None:
    reviews = sub.add_parser("reviews", help="review sentiment and per-product review summaries",
                             description="Score review texts (positive, negative, neutral) and summarise a "
                                         "product's reviews by aspect (English and Chinese).")
    commands = reviews.add_subparsers(dest="reviews_command", required=True, metavar="COMMAND")

    predict = commands.add_parser(
        "predict", help="score a file of reviews",
        description='Input: one JSON object with a "text" per line, or one plain text per line. Output: one line '
                    'per input line, in order: {"text", "label": "positive"|"negative"|"neutral", "score"}, score = '
                    '2*P(positive)-1 in [-1, 1]. An empty review, one in a language other than English or Chinese, '
                    'or an unreadable line gets label and score null and an "error" saying why.')
    predict.add_argument("--in", dest="input", required=True, metavar="FILE", help="reviews, one per line")
    predict.add_argument("--out", dest="output", required=True, metavar="FILE", help="JSON lines to write")
    predict.add_argument("--model", metavar="DIR", help="a sentiment model directory (default: the shipped one)")
    predict.set_defaults(func=cmd_predict)

    summary = commands.add_parser(
        "summarize", help="summarise a product's reviews from the catalog",
        description="Print a short summary of one product's reviews: how many, the overall verdict and average "
                    "rating, and the aspects praised and criticised, each with a verbatim quote.")
    summary.add_argument("--product", required=True, metavar="ID", help="the product's sku in the catalog")
    summary.add_argument("--lang", choices=("en", "zh"),
                         help="language of the summary (default: the language most of its reviews are in)")
    summary.add_argument("--catalog", type=Path, metavar="FILE",
                         help="catalog JSON (default: knowledge.catalog from the config)")
    summary.set_defaults(func=cmd_summarize)
