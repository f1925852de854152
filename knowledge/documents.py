"""Reading the store's knowledge files into passages.

A passage is the unit the bot retrieves and cites: one FAQ entry, one
product, or one section of a page (its heading kept with its text, so
"Returns > Damaged items" still says what the text is about). Ids are stable
across re-ingestion: FAQ ids are the store's own, products are `product:SKU`,
page sections are `<file stem>#<heading slug>` with `-2`, `-3`... when one
section is split into several chunks.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_FILE_BYTES = 20 * 1024 * 1024  # a knowledge file bigger than this is almost surely a mistake
CHUNK_CHARS = 1200  # a section longer than this is split at paragraph, then sentence, boundaries
# Bumped when the same file gives different passages (2: products say how many are in stock), so that
# stores ingested before re-read their files.
PASSAGE_FORMAT = 2
SUFFIXES = {".json", ".jsonl", ".csv", ".md", ".markdown", ".html", ".htm", ".txt"}


class KnowledgeError(Exception):
    """Knowledge that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class Passage:
    id: str
    title: str  # the FAQ question, the product name, or the section's heading path
    text: str  # the FAQ answer, the product facts, or the section's text
    source: str  # the file it came from
    kind: str = "page"  # "faq", "product" or "page"
    url: str | None = None  # where a shopper can read it on the store's site (a row's "url"), if known

    def to_json(self) -> dict:
        return asdict(self)


def read_text(path: Path) -> str:
    """A file's text: UTF-8 (with or without BOM), UTF-16 with BOM, or the
    encoding charset-normalizer detects; anything else is a clear error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise KnowledgeError(f"{path}: is a directory") from None
    if len(data) > MAX_FILE_BYTES:
        raise KnowledgeError(f"{path}: {len(data) / 1e6:.0f} MB is over the {MAX_FILE_BYTES // 10**6} MB limit "
                             "for one knowledge file; split it")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or "\x00" in str(best):
        raise KnowledgeError(f"{path}: not a text file, or an encoding that cannot be recognised; "
                             "save it as UTF-8")
    return str(best)


def slug(text: str) -> str:
    """A readable id part: lower-case words (any script) joined by '-'."""
    return "-".join(re.findall(r"\w+", text.lower()))[:60] or "section"


def split_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Chunks of at most about `limit` characters, cut between paragraphs,
    else between sentences, never inside a word unless a word is huge."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(pieces) == 1:
        pieces = [s for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]
    if len(pieces) == 1:  # one endless sentence: cut at spaces, or hard
        cut = text.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        return [text[:cut].strip()] + split_text(text[cut:], limit)
    chunks, current = [], ""
    for piece in pieces:
        if current and len(current) + len(piece) + 1 > limit:
            chunks.append(current)
            current = ""
        if len(piece) > limit:
            chunks += split_text(piece, limit)
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def sections_to_passages(sections: list[tuple[list[str], str]], path: Path) -> list[Passage]:
    """(heading path, text) sections -> passages with stable, unique ids."""
    passages, used = [], set()
    for headings, body in sections:
        title = " > ".join(h for h in headings if h) or path.stem
        base = f"{slug(path.stem)}#{slug(headings[-1]) if headings else 'top'}"
        for n, chunk in enumerate(split_text(body), 1):
            pid = base if n == 1 else f"{base}-{n}"
            k = 2
            while pid in used:  # two sections with the same heading
                pid, k = f"{base}-{n}.{k}", k + 1
            used.add(pid)
            passages.append(Passage(pid, title, chunk, str(path), "page"))
    return passages


def _enter_heading(stack: list[str], level: int, heading: str) -> None:
    """Make `heading` the level-`level` entry of the heading path, dropping
    deeper ones (a skipped level stays as an empty entry)."""
    stack[:] = stack[:level - 1] + [""] * max(0, level - 1 - len(stack)) + [heading]


def markdown_sections(text: str) -> list[tuple[list[str], str]]:
    """Split Markdown at ATX headings (#, ##, ...), ignoring '#' lines inside
    fenced code; each section carries the path of headings above it."""
    sections, stack, lines, fenced = [], [], [], False

    def flush():
        body = "\n".join(lines).strip()
        if body:
            sections.append((list(stack), body))
        lines.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match:
            flush()
            _enter_heading(stack, len(match.group(1)), match.group(2))
            continue
        lines.append(line)
    flush()
    return sections


HEADINGS = ["h1", "h2", "h3", "h4"]
BLOCKS = ["p", "li", "td", "th", "pre", "dd", "dt", "blockquote"]


def html_sections(text: str) -> list[tuple[list[str], str]]:
    """Split an HTML page at <h1>..<h4>; scripts, styles and navigation are
    dropped. Broken HTML is read as browsers read it."""
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(text, "html5lib")  # the browsers' parsing algorithm, for broken pages too
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "form", "template"]):
        tag.decompose()
    root = soup.body or soup
    sections, stack, lines = [], [], []
    title = soup.title.get_text(" ", strip=True) if soup.title else ""

    def flush():
        body = "\n\n".join(line for line in lines if line).strip()
        if body:
            sections.append((list(stack) or ([title] if title else []), body))
        lines.clear()

    # Text in document order, grouped by its nearest heading or block: this
    # holds however the page nests them (browsers put a heading that follows
    # an unclosed <li> inside that <li>).
    pieces: list[tuple[object, str]] = []
    for string in root.find_all(string=True):
        if type(string) is not NavigableString or not string.strip():
            continue  # comments, doctypes, blank space
        owner = string.find_parent(HEADINGS + BLOCKS) or root
        if pieces and pieces[-1][0] is owner:
            pieces[-1] = (owner, f"{pieces[-1][1]} {string.strip()}")
        else:
            pieces.append((owner, string.strip()))
    for owner, words in pieces:
        words = re.sub(r"\s+", " ", words)
        if owner.name in HEADINGS:
            flush()
            _enter_heading(stack, int(owner.name[1]), words)
        else:
            lines.append(f"- {words}" if owner.name == "li" else words)
    flush()
    return sections


def _faq_row(row: dict, where: str, path: Path) -> Passage:
    """A JSON/CSV row as a passage: {id, question, answer} or {id, title, text}."""
    if not isinstance(row, dict):
        raise KnowledgeError(f"{where}: expected an object with 'id', 'question' and 'answer'")
    question = row.get("question", row.get("title"))
    answer = row.get("answer", row.get("text"))
    pid = row.get("id")
    if pid is not None and not isinstance(pid, (str, int)):
        raise KnowledgeError(f"{where}: 'id' must be a string")
    if not isinstance(answer, str) or not answer.strip():
        raise KnowledgeError(f"{where}: needs a non-empty 'answer' (or 'text')")
    if question is not None and not isinstance(question, str):
        raise KnowledgeError(f"{where}: 'question' must be text")
    kind = "faq" if "question" in row else "page"
    title = (question or "").strip()
    pid = str(pid).strip() if pid is not None and str(pid).strip() else f"{slug(path.stem)}#{slug(title or answer)}"
    url = row.get("url")
    if url is not None and not isinstance(url, str):
        raise KnowledgeError(f"{where}: 'url' must be text")
    return Passage(pid, title, answer.strip(), str(path), kind, url or None)


def _is_product(row) -> bool:
    return isinstance(row, dict) and "sku" in row and "name" in row


def product_passage(row: dict, path: Path) -> Passage:
    """The facts a shopper may ask about one product, as plain sentences."""
    from knowledge.catalog import product_from_row

    product = product_from_row(row, str(path))
    facts = [product.description.rstrip(".") + "." if product.description else "",
             f"Price: {product.price:g} {product.currency}.",
             f"In stock ({product.in_stock} available)." if product.in_stock > 0 else "Currently out of stock."]
    if product.colours:
        facts.append(f"Colours: {', '.join(product.colours)}.")
    if product.sizes:
        facts.append(f"Sizes: {', '.join(product.sizes)}.")
    if product.final_sale:
        facts.append("Final Sale: cannot be returned or exchanged.")
    elif not product.returnable:
        facts.append("This item cannot be returned.")
    if product.average_rating is not None:
        facts.append(f"Average rating {product.average_rating:.1f} of 5 from {len(product.reviews)} reviews.")
    return Passage(f"product:{product.sku}", f"{product.name} ({product.category})",
                   " ".join(f for f in facts if f), str(path), "product", product.url)


def json_passages(text: str, path: Path) -> list[Passage]:
    try:
        if path.suffix == ".jsonl":
            rows = []
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append((f"{path}:{number}", json.loads(line)))
                    except json.JSONDecodeError as exc:
                        raise KnowledgeError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        else:
            data = json.loads(text)
            if isinstance(data, dict):  # {"questions": [...]} or {"faq": [...]}: the one list inside
                lists = [v for v in data.values() if isinstance(v, list)]
                if len(lists) != 1:
                    raise KnowledgeError(f"{path}: expected a list of entries (or an object holding one list)")
                data = lists[0]
            if not isinstance(data, list):
                raise KnowledgeError(f"{path}: expected a list of entries")
            rows = [(f"{path}: entry {n}", row) for n, row in enumerate(data, 1)]
    except json.JSONDecodeError as exc:
        raise KnowledgeError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    return [product_passage(row, path) if _is_product(row) else _faq_row(row, where, path) for where, row in rows]


def csv_passages(text: str, path: Path) -> list[Passage]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not ({"question", "answer"} <= fields or {"title", "text"} <= fields):
        raise KnowledgeError(f"{path}:1: a knowledge CSV needs a header with 'question' and 'answer' "
                             "(or 'title' and 'text') columns, and optionally 'id'")
    passages = []
    for number, row in enumerate(reader, 2):
        row = {(k or "").strip().lower(): v for k, v in row.items()}
        passages.append(_faq_row(row, f"{path}:{number}", path))
    return passages


def load_passages(path: Path) -> list[Passage]:
    """The passages of one knowledge file; KnowledgeError names the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise KnowledgeError(f"{path}: unsupported file type {suffix or '(none)'}; "
                             f"use one of {', '.join(sorted(SUFFIXES))}")
    text = read_text(path)
    if not text.strip():
        raise KnowledgeError(f"{path}: the file is empty")
    if suffix in (".json", ".jsonl"):
        passages = json_passages(text, path)
    elif suffix == ".csv":
        passages = csv_passages(text, path)
    elif suffix in (".md", ".markdown"):
        passages = sections_to_passages(markdown_sections(text), path)
    elif suffix in (".html", ".htm"):
        passages = sections_to_passages(html_sections(text), path)
    else:
        passages = sections_to_passages([([], text)], path)
    if not passages:
        raise KnowledgeError(f"{path}: no text found in the file")
    seen: set[str] = set()
    for p in passages:
        if p.id in seen:
            raise KnowledgeError(f"{path}: duplicate id {p.id!r}")
        seen.add(p.id)
    return passages
