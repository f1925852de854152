"""Entity extraction: regexes, lookup tables and synonyms from the training
data, plus the shop's own entities (e-mail, quantity, and the catalog's
products, colours and sizes).

Each entity is {"entity", "value", "start", "end", "extractor"}; where spans
overlap, the longer one wins, so "SK-1002" is an order id, not a quantity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lm.language import has_chinese

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "a dozen": 12, "a pair of": 2, "a couple of": 2,
                 "一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# A quantity is a small number next to a unit-like word, or a number word
# before a noun: "2 mugs", "two of them", "3个", "x2".
QUANTITY = re.compile(
    r"(?<![\w-])(?:x\s?)?(?P<n>\d{1,3}|" + "|".join(sorted((w for w in _NUMBER_WORDS if w.isascii()), key=len,
                                                         reverse=True))
    + r")(?=\s+(?!(?:am|pm|days?|weeks?|hours?|minutes?|years?|months?)\b)[a-z])"
    r"|(?P<zh>\d{1,3}|[一两二三四五六七八九十])(?=[个件双套条瓶只台把张盒包])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Pattern:
    entity: str
    regex: re.Pattern
    extractor: str
    canonical: dict | None = None  # lookups: casefolded value -> the value as listed


def _lookup_regex(values: list[str]) -> re.Pattern:
    """One regex for a lookup table, longest first; word boundaries only for
    non-CJK values (Chinese has no spaces between words)."""
    parts = []
    for value in sorted({v.strip() for v in values if v.strip()}, key=len, reverse=True):
        escaped = re.escape(value)
        # plural forms count: "Dutch ovens" is the product "Dutch oven"
        parts.append(escaped if has_chinese(value) else rf"(?<!\w){escaped}(?:e?s)?(?!\w)")
    return re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)


class EntityExtractor:
    def __init__(self, regexes: dict[str, list[str]] | None = None, lookups: dict[str, list[str]] | None = None,
                 synonyms: dict[str, str] | None = None, shop_entities: bool = True):
        self.synonyms = {k.casefold(): v for k, v in (synonyms or {}).items()}
        self._patterns = [_Pattern(name, re.compile(p), "regex") for name, ps in (regexes or {}).items() for p in ps]
        self._patterns += [_Pattern(name, _lookup_regex(vs), "lookup", {v.strip().casefold(): v.strip() for v in vs})
                           for name, vs in (lookups or {}).items()]
        self.shop_entities = shop_entities

    def extract(self, text: str) -> list[dict]:
        found = []
        for pattern in self._patterns:
            for m in pattern.regex.finditer(text):
                if m.end() > m.start():
                    surface = _listed_form(m.group(0), pattern.canonical) if pattern.canonical else m.group(0)
                    found.append(self._entity(pattern.entity, surface, m.start(), m.end(), pattern.extractor))
        if self.shop_entities:
            for m in EMAIL.finditer(text):
                found.append(self._entity("email", m.group(0).lower(), m.start(), m.end(), "shop"))
            for m in QUANTITY.finditer(text):
                raw = (m.group("n") or m.group("zh"))
                value = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw.lower()]
                start = m.start("n") if m.group("n") else m.start("zh")
                found.append({"entity": "quantity", "value": value, "start": start, "end": start + len(raw),
                              "extractor": "shop"})
        return _without_overlaps(found)

    def _entity(self, name: str, surface: str, start: int, end: int, extractor: str) -> dict:
        value = self.synonyms.get(surface.casefold(), surface)
        return {"entity": name, "value": value, "start": start, "end": end, "extractor": extractor}


def _listed_form(surface: str, listed: dict) -> str:
    """The lookup value a match stands for ("dutch ovens" -> "Dutch oven")."""
    key = surface.casefold()
    for candidate in (key, key[:-1] if key.endswith("s") else None, key[:-2] if key.endswith("es") else None):
        if candidate in listed:
            return listed[candidate]
    return surface


def _without_overlaps(entities: list[dict]) -> list[dict]:
    kept: list[dict] = []
    for e in sorted(entities, key=lambda e: (-(e["end"] - e["start"]), e["start"])):
        if all(e["end"] <= k["start"] or e["start"] >= k["end"] for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e["start"])
