"""Entity extraction from the regex sections of the training data."""

from __future__ import annotations

import re


class RegexEntityExtractor:
    def __init__(self, regexes: dict[str, list[str]]):
        self._patterns = [(name, re.compile(p)) for name, ps in regexes.items() for p in ps]

    def extract(self, text: str) -> list[dict]:
        found = []
        for name, pattern in self._patterns:
            for m in pattern.finditer(text):
                found.append({"entity": name, "value": m.group(0), "start": m.start(), "end": m.end(),
                              "extractor": "RegexEntityExtractor"})
        found.sort(key=lambda e: e["start"])
        return found
