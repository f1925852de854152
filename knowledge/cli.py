"""`shopkeep knowledge ingest|remove|list|search` and `shopkeep ask`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from knowledge.documents import KnowledgeError, load_passages


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; KnowledgeError (naming the file) when it is missing or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_queries(path: Path) -> list[str]:
    """One JSON object with a "query" per line (or one plain question per line)."""
    lines = read_lines(path)
    queries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise KnowledgeError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
            if not isinstance(row.get("query"), str):
                raise KnowledgeError(f"{path}:{number}: each line needs a \"query\" string")
            queries.append(row["query"])
        else:
            queries.append(line.strip())
    return queries


@contextmanager
def _generator(config, model: str | None):
    """The chat model for `model` (default: the configured one), or None;
    closed when the block ends, however it ends."""
    from bot.assembly import load_generator

    model = model or config.lm.model
    generator, status = load_generator(replace(config, lm=replace(config.lm, model=model)))
    if generator is None and model != "none":
        print(f"shopkeep: language model {model} {status}; answering with the best passage verbatim",
              file=sys.stderr)
    try:
        yield generator
    finally:
        if generator is not None:
            generator.close()


def _write_lines(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def cmd_ingest(args: argparse.Namespace, config) -> int:
    from bot.assembly import build_retriever, knowledge_store

    store = knowledge_store(config)
    report = store.ingest([Path(p) for p in args.paths], progress=True)
    # Embedding (and translating titles) now makes the next start fast; both are cached.
    with _generator(config, None) as generator:
        build_retriever(config, store.passages, generator, progress=True)
    print(report.text())
    return 0


def cmd_remove(args: argparse.Namespace, config) -> int:
    from bot.assembly import knowledge_store

    print(knowledge_store(config).remove([Path(p) for p in args.paths]).text())
    return 0


def cmd_list(args: argparse.Namespace, config) -> int:
    from bot.assembly import knowledge_store

    store = knowledge_store(config)
    counts: dict[str, int] = {}
    for p in store.passages:
        counts[p.source] = counts.get(p.source, 0) + 1
    for name in store.files:
        print(f"{counts.get(name, 0):6d}  {name}")
    print(f"{len(store.passages)} passages from {len(store.files)} files")
    return 0


def cmd_search(args: argparse.Namespace, config) -> int:
    from tqdm import tqdm

    from bot.assembly import build_retriever

    queries = read_queries(Path(args.queries))
    with _generator(config, args.model) as generator:
        retriever = build_retriever(config, load_passages(Path(args.kb)), generator, progress=True)
    rows = []
    for query in tqdm(queries, desc="searching", unit="query"):
        hits = retriever.search(query, args.top_k)
        rows.append({"query": query, "hits": [{"id": h.passage.id, "score": round(h.score, 4)} for h in hits]})
    _write_lines(Path(args.out), rows)
    print(f"{len(rows)} queries searched; hits in {args.out}")
    return 0


def cmd_ask(args: argparse.Namespace, config) -> int:
    from tqdm import tqdm

    from bot.assembly import build_answerer, build_retriever

    queries = read_queries(Path(args.queries))

    async def answer_all(answerer):
        rows = []
        for query in tqdm(queries, desc="answering", unit="query"):
            a = await answerer.answer(query)
            rows.append({"query": query, "answer": a.text, "sources": a.sources, "abstained": a.abstained,
                         "lang": a.lang, "generated": a.generated})
        return rows

    with _generator(config, args.model) as generator:
        retriever = build_retriever(config, load_passages(Path(args.kb)), generator, progress=True)
        rows = asyncio.run(answer_all(build_answerer(config, retriever, generator)))
    _write_lines(Path(args.out), rows)
    print(f"{len(rows)} questions answered ({sum(r['abstained'] for r in rows)} abstained); answers in {args.out}")
    return 0


def _kb_arguments(parser: argparse.ArgumentParser) -> None:
    """The files `knowledge search` and `ask` share."""
    parser.add_argument("--kb", required=True, help='JSONL: {"id","question","answer"} or {"id","title","text"}')
    parser.add_argument("--queries", required=True, help='JSONL with a "query" per line')
    parser.add_argument("--out", required=True, help="JSONL output")


def add_knowledge_commands(sub: argparse._SubParsersAction) -> None:
    knowledge = sub.add_parser("knowledge", help="ingest, list, remove and search the store's knowledge",
                               description="The knowledge store lives under the data directory; the bot "
                                           "answers questions from it.")
    commands = knowledge.add_subparsers(dest="knowledge_command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="add or refresh knowledge files or folders",
                                 description="Reads FAQ files (.json/.jsonl with id, question, answer; .csv), "
                                             "pages (.md, .html, .txt; split by heading) and product catalogs "
                                             "(.json with sku and name). Unchanged files are skipped; files "
                                             "gone from an ingested folder are removed.")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.set_defaults(func=cmd_ingest)

    remove = commands.add_parser("remove", help="forget the knowledge that came from files or folders")
    remove.add_argument("paths", nargs="+", metavar="PATH")
    remove.set_defaults(func=cmd_remove)

    listing = commands.add_parser("list", help="the files in the knowledge store and their passage counts")
    listing.set_defaults(func=cmd_list)

    search = commands.add_parser("search", help="retrieve passages for a file of queries",
                                 description="Indexes KB on the fly (vectors cached under the data directory) "
                                             "and writes one JSON line per query: {query, hits: [{id, score}]}.")
    _kb_arguments(search)
    search.add_argument("--top-k", type=int, default=5, help="hits per query (default 5)")
    search.add_argument("--model", help="LM spec for translating titles to Chinese (default from config); "
                                        "'none' searches without")
    search.set_defaults(func=cmd_search)

    ask = sub.add_parser("ask", help="answer a file of questions from a knowledge base",
                         description="Writes one JSON line per question: {query, answer, sources, abstained, "
                                     "lang, generated (true when the model's checked lead was sent)}. "
                                     "Abstains (\"I don't know\" + offer of a person) when the knowledge "
                                     "does not cover the question.")
    _kb_arguments(ask)
    ask.add_argument("--model", help="LM spec (default from config); 'none' quotes the best passage verbatim")
    ask.set_defaults(func=cmd_ask)
