"""Reading intent training data: Rasa NLU YAML, or CSV for benchmarks.

YAML: `- intent:` blocks with `examples: |` lists, entity annotations
`[text](entity)` and `[text]{"entity": "x", "value": "y", "role": "r",
"group": "g"}`, and `- regex:`, `- synonym:` and `- lookup:` blocks. CSV: a
header row whose first two columns are the text and its intent (`text,intent`
or BANKING77's `text,category`). Examples of the intent `nlu_fallback` or
`oos` are out-of-scope examples: they teach the layer what it should not
claim. `out_of_scope` is an ordinary intent, as in Rasa projects, which give
it rules and responses of its own.

The data can be one file, several, or a folder (a Rasa project's data/):
a folder is walked recursively for .yml/.yaml files, and of several files
only those with a top-level `nlu:` key contribute (rules and stories files
are skipped). An example under two intents is left out of both with a
warning, as Rasa only warns; `strict=True` refuses such data instead.
Errors name the file and line, because store owners edit these files by hand.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.yaml_files import YAML_SUFFIXES, yaml_files

log = logging.getLogger(__name__)

# [text](entity) or [text]{"entity": ..., "value": ..., "role": ..., "group": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")

OUT_OF_SCOPE_LABELS = {"nlu_fallback", "oos"}


class TrainingDataError(Exception):
    """Training data that cannot be used; the message names file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[dict, ...] = ()
    line: int = 0


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)  # in-scope examples
    out_of_scope: list[Example] = field(default_factory=list)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # casefolded surface form -> canonical value
    lookups: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""
    files: list[Path] = field(default_factory=list)  # the files that contributed, in reading order
    warnings: list[str] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def add(self, example: Example) -> None:
        (self.out_of_scope if example.intent in OUT_OF_SCOPE_LABELS else self.examples).append(example)

    def check(self, where: Path | str) -> "TrainingData":
        if not self.examples:
            raise TrainingDataError(f"{where}: no intent examples found")
        if len(self.intents) < 2:
            raise TrainingDataError(f"{where}: at least two intents are needed to train a classifier")
        return self


class _Reader:
    """Collects examples from one or more files, one copy of each: an example
    seen again under the same intent is dropped silently; one seen under
    another intent is a conflict, left out of both intents at the end (or,
    when strict, an error)."""

    def __init__(self, data: TrainingData, strict: bool):
        self.data = data
        self.strict = strict
        self.seen: dict[str, tuple[str, Path, int]] = {}  # casefolded text -> (intent, file, line)
        self.conflicts: set[str] = set()

    def add(self, example: Example, path: Path) -> None:
        key = example.text.casefold().strip()
        if key not in self.seen:
            self.seen[key] = (example.intent, path, example.line)
            self.data.add(example)
            return
        other, other_path, other_line = self.seen[key]
        if other == example.intent:
            return
        where = f"line {other_line}" if other_path == path else f"{other_path}:{other_line}"
        message = (f"{path}:{example.line}: example {example.text!r} is under intent '{example.intent}' and also "
                   f"under '{other}' ({where})")
        if self.strict:
            raise TrainingDataError(f"{message}; keep it under one")
        message += "; it is left out of both"
        log.warning(message)
        self.data.warnings.append(message)
        self.conflicts.add(key)

    def finish(self, where: Path | str) -> TrainingData:
        if self.conflicts:
            def keep(e: Example) -> bool:
                return e.text.casefold().strip() not in self.conflicts

            self.data.examples = [e for e in self.data.examples if keep(e)]
            self.data.out_of_scope = [e for e in self.data.out_of_scope if keep(e)]
        return self.data.check(where)


def load_training_data(paths: str | Path | Iterable[str | Path], strict: bool = False) -> TrainingData:
    """Rasa NLU YAML (.yml/.yaml) or CSV (.csv), by the file's suffix.

    `paths` is one file, a folder, or a list of files and folders. One file
    must be training data; of several, those without an `nlu:` key (rules,
    stories, domain) are skipped. `strict` makes an example under two
    intents an error instead of a warning.
    """
    if isinstance(paths, (str, Path)) and not Path(paths).is_dir():
        path = Path(paths)
        if path.suffix.lower() == ".csv":
            return load_csv(path, strict)
        if path.suffix.lower() in YAML_SUFFIXES:
            return load_nlu_yaml(path, strict)
        raise TrainingDataError(f"{path}: training data must be .yml, .yaml or .csv")
    where = paths if isinstance(paths, (str, Path)) else ", ".join(str(p) for p in paths)
    files = yaml_files(paths)
    data = TrainingData(source=str(where))
    reader = _Reader(data, strict)
    for path in files:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            _read_csv(path, reader)
        elif suffix in YAML_SUFFIXES:
            _read_yaml(path, reader, nlu_required=False)
        else:
            raise TrainingDataError(f"{path}: training data must be .yml, .yaml or .csv")
    if not data.files:
        raise TrainingDataError(f"{where}: no NLU training data (no .yml file with an 'nlu:' key, no .csv file)")
    return reader.finish(where)


def load_csv(path: str | Path, strict: bool = False) -> TrainingData:
    """A CSV with a header; the first column is the text, the second the intent."""
    path = Path(path)
    reader = _Reader(TrainingData(source=str(path)), strict)
    _read_csv(path, reader)
    return reader.finish(path)


def _read_csv(path: Path, reader: _Reader) -> None:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise TrainingDataError(f"{path}: file not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    if len(rows) < 2 or len(rows[0]) < 2:
        raise TrainingDataError(f"{path}: expected a header row and rows of text,intent")
    reader.data.files.append(path)
    for line, row in enumerate(rows[1:], 2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[1].strip():
            raise TrainingDataError(f"{path}:{line}: expected text,intent")
        reader.add(Example(row[0].strip(), row[1].strip(), (), line), path)


def parse_annotated(text: str) -> tuple[str, tuple[dict, ...]]:
    """Strip entity annotations from an example and return (plain text, entities).

    A JSON annotation's "value" is a synonym's canonical value; its "role"
    and "group" are kept on the entity when given.
    """
    entities = []
    plain = []
    pos = 0
    for m in _ANNOTATION.finditer(text):
        plain.append(text[pos : m.start()])
        start = sum(len(p) for p in plain)
        value = m.group("text")
        extra = {}
        if m.group("entity"):
            name, canonical = m.group("entity"), value
        else:
            spec = json.loads(m.group("json"))
            name, canonical = spec["entity"], spec.get("value", value)
            extra = {key: spec[key] for key in ("role", "group") if spec.get(key) is not None}
        entities.append({"entity": name, "value": canonical, "start": start, "end": start + len(value), **extra})
        plain.append(value)
        pos = m.end()
    plain.append(text[pos:])
    return "".join(plain), tuple(entities)


def _examples_lines(node: yaml.Node, path: Path) -> list[tuple[str, int]]:
    """The examples of an `examples: |` block (or of Rasa's list of `- text:`
    mappings, which may carry metadata), with their line numbers."""
    if isinstance(node, yaml.SequenceNode):
        out = []
        for item in node.value:
            keys = {k.value: v for k, v in item.value} if isinstance(item, yaml.MappingNode) else {}
            if not isinstance(keys.get("text"), yaml.ScalarNode):
                raise TrainingDataError(f"{path}:{item.start_mark.line + 1}: each example must be a 'text:' mapping")
            out.append((keys["text"].value.strip(), keys["text"].start_mark.line + 1))
        return out
    if not isinstance(node, yaml.ScalarNode):
        raise TrainingDataError(f"{path}:{node.start_mark.line + 1}: 'examples' must be a block of '- ' lines")
    # A literal block's content starts on the line after the `|`.
    first = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
    out = []
    for offset, raw in enumerate(node.value.splitlines()):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise TrainingDataError(f"{path}:{first + offset + 1}: each example must start with '- ', got {line!r}")
        out.append((line[2:].strip(), first + offset + 1))
    return out


def load_nlu_yaml(path: str | Path, strict: bool = False) -> TrainingData:
    """Parse a Rasa NLU YAML file, checking it as a store owner would want."""
    path = Path(path)
    reader = _Reader(TrainingData(source=str(path)), strict)
    _read_yaml(path, reader, nlu_required=True)
    return reader.finish(path)


def _read_yaml(path: Path, reader: _Reader, nlu_required: bool) -> None:
    """Add a YAML file's NLU data; without an `nlu:` key the file is an error
    when `nlu_required`, else skipped (a Rasa rules or stories file)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingDataError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path}: not a UTF-8 file: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise TrainingDataError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    top = {k.value: v for k, v in root.value} if isinstance(root, yaml.MappingNode) else {}
    if "nlu" not in top and not nlu_required:
        return
    if root is None or not isinstance(root, yaml.MappingNode):
        raise TrainingDataError(f"{path}: expected a mapping with an 'nlu:' list")
    nlu = top.get("nlu")
    if not isinstance(nlu, yaml.SequenceNode):
        raise TrainingDataError(f"{path}: expected an 'nlu:' list")
    data = reader.data
    data.files.append(path)
    for item in nlu.value:
        if not isinstance(item, yaml.MappingNode):
            raise TrainingDataError(f"{path}:{item.start_mark.line + 1}: each 'nlu' item must be a mapping")
        keys = {k.value: v for k, v in item.value}
        if "intent" in keys:
            intent = keys["intent"].value
            if "examples" not in keys:
                raise TrainingDataError(f"{path}:{item.start_mark.line + 1}: intent '{intent}' has no examples")
            for raw, line in _examples_lines(keys["examples"], path):
                try:
                    text, entities = parse_annotated(raw)
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise TrainingDataError(f"{path}:{line}: bad entity annotation: {exc}") from None
                reader.add(Example(text, intent, entities, line), path)
                for entity in entities:
                    if entity["value"] != text[entity["start"]:entity["end"]]:
                        data.synonyms[text[entity["start"]:entity["end"]].casefold()] = entity["value"]
        elif "regex" in keys:
            name = keys["regex"].value
            patterns = [p for p, _ in _examples_lines(keys["examples"], path)] if "examples" in keys else []
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise TrainingDataError(f"{path}: regex '{name}': {exc}") from None
            data.regexes.setdefault(name, []).extend(patterns)
        elif "synonym" in keys:
            canonical = keys["synonym"].value
            for value, _ in _examples_lines(keys["examples"], path) if "examples" in keys else []:
                data.synonyms[value.casefold()] = canonical
        elif "lookup" in keys:
            name = keys["lookup"].value
            values = [v for v, _ in _examples_lines(keys["examples"], path)] if "examples" in keys else []
            data.lookups.setdefault(name, []).extend(values)
        else:
            raise TrainingDataError(f"{path}:{item.start_mark.line + 1}: expected 'intent', 'regex', "
                                    f"'synonym' or 'lookup', got {', '.join(keys) or 'nothing'}")
