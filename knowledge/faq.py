"""FAQ entries: what the store says about its policies, in its own words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class KnowledgeError(Exception):
    """Knowledge files that cannot be used; the message names the file."""


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    category: str = ""


def load_faq(path: str | Path) -> list[FaqEntry]:
    """Read a JSON list or JSONL file of {"id", "question", "answer"} entries."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KnowledgeError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(rows, list) or not rows:
        raise KnowledgeError(f"{path}: expected a non-empty list of FAQ entries")
    entries, seen = [], set()
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) and row[k].strip()
                                                for k in ("id", "question", "answer")):
            raise KnowledgeError(f"{path}: entry {number} needs non-empty 'id', 'question' and 'answer'")
        if row["id"] in seen:
            raise KnowledgeError(f"{path}: duplicate id {row['id']!r} (entry {number})")
        seen.add(row["id"])
        entries.append(FaqEntry(row["id"], row["question"].strip(), row["answer"].strip(),
                                str(row.get("category", ""))))
    return entries
