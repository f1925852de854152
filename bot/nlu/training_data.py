"""Reading intent training data: Rasa NLU YAML, or CSV for benchmarks.

YAML: `- intent:` blocks with `examples: |` lists, entity annotations
`[text](entity)` and `[text]{"entity": "x", "value": "y"}`, and `- regex:`,
`- synonym:` and `- lookup:` blocks. CSV: a header row whose first two
columns are the text and its intent (`text,intent` or BANKING77's
`text,category`). Examples of the intent `nlu_fallback` or `oos` are
out-of-scope examples: they teach the layer what it should not claim.
Errors name the file and line, because store owners edit these files by hand.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# [text](entity) or [text]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


OUT_OF_SCOPE_LABELS = {"nlu_fallback", "oos", "out_of_scope"}


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

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def add(self, example: Example) -> None:
        (self.out_of_scope if example.intent in OUT_OF_SCOPE_LABELS else self.examples).append(example)

    def check(self, path: Path) -> "TrainingData":
        if not self.examples:
            raise TrainingDataError(f"{path}: no intent examples found")
        if len(self.intents) < 2:
            raise TrainingDataError(f"{path}: at least two intents are needed to train a classifier")
        return self


def load_training_data(path: str | Path) -> TrainingData:
    """Rasa NLU YAML (.yml/.yaml) or CSV (.csv), by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return load_csv(path)
    if path.suffix.lower() in (".yml", ".yaml"):
        return load_nlu_yaml(path)
    raise TrainingDataError(f"{path}: training data must be .yml, .yaml or .csv")


def load_csv(path: str | Path) -> TrainingData:
    """A CSV with a header; the first column is the text, the second the intent."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise TrainingDataError(f"{path}: file not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    if len(rows) < 2 or len(rows[0]) < 2:
        raise TrainingDataError(f"{path}: expected a header row and rows of text,intent")
    data = TrainingData(source=str(path))
    seen: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(rows[1:], 2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[1].strip():
            raise TrainingDataError(f"{path}:{line}: expected text,intent")
        text, intent = row[0].strip(), row[1].strip()
        _check_duplicate(seen, path, text, intent, line)
        data.add(Example(text, intent, (), line))
    return data.check(path)


def _check_duplicate(seen: dict, path: Path, text: str, intent: str, line: int) -> None:
    key = text.casefold().strip()
    if key in seen and seen[key][0] != intent:
        other, other_line = seen[key]
        raise TrainingDataError(f"{path}:{line}: example {text!r} is under intent '{intent}' and also "
                                f"under '{other}' (line {other_line}); keep it under one")
    seen[key] = (intent, line)


def parse_annotated(text: str) -> tuple[str, tuple[dict, ...]]:
    """Strip entity annotations from an example and return (plain text, entities)."""
    entities = []
    plain = []
    pos = 0
    for m in _ANNOTATION.finditer(text):
        plain.append(text[pos : m.start()])
        start = sum(len(p) for p in plain)
        value = m.group("text")
        if m.group("entity"):
            name, canonical = m.group("entity"), value
        else:
            spec = json.loads(m.group("json"))
            name, canonical = spec["entity"], spec.get("value", value)
        entities.append({"entity": name, "value": canonical, "start": start, "end": start + len(value)})
        plain.append(value)
        pos = m.end()
    plain.append(text[pos:])
    return "".join(plain), tuple(entities)


def _examples_lines(node: yaml.Node, path: Path) -> list[tuple[str, int]]:
    """The '- example' lines of an `examples: |` block, with their line numbers."""
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


def load_nlu_yaml(path: str | Path) -> TrainingData:
    """Parse a Rasa NLU YAML file, checking it as a store owner would want."""
    path = Path(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingDataError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise TrainingDataError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise TrainingDataError(f"{path}: expected a mapping with an 'nlu:' list")
    top = {k.value: v for k, v in root.value}
    nlu = top.get("nlu")
    if not isinstance(nlu, yaml.SequenceNode):
        raise TrainingDataError(f"{path}: expected an 'nlu:' list")
    data = TrainingData(source=str(path))
    seen: dict[str, tuple[str, int]] = {}
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
                except (json.JSONDecodeError, KeyError) as exc:
                    raise TrainingDataError(f"{path}:{line}: bad entity annotation: {exc}") from None
                _check_duplicate(seen, path, text, intent, line)
                data.add(Example(text, intent, entities, line))
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
    return data.check(path)
