r"""Entity extraction: regexes, lookup tables and synonyms from the training
data, plus the shop's own entities (e-mail, quantity, and the catalog's
products, colours and sizes).

Each entity is {"entity", "value", "start", "end", "extractor"} (and "role"
when one is known); where spans overlap, the longer one wins, so "SK-1002" is
an order id, not a quantity.

Chinese and Japanese have no spaces, so `\b` and `(?<!\w)` see no boundary
between 单 and S in "我要查订单SK-1002". Regexes and lookup tables therefore
also run on a copy of the text with a space at every boundary between a CJK
character and another non-space character ("我要查订单 SK-1002"); the spans found
there are mapped back to the original text. A regex written for the text as
it is ("订单号[A-Z]+") still matches the original.

Roles: the training data's annotations (`from [Berlin]{"entity": "city",
"role": "departure"}`) are kept as evidence, and an entity found at run time
gets a role from it, by two simple rules tried in order:

1. context: the two words just before the entity in the message are compared
   with the two words before each annotated span of the same entity; the
   role whose annotation shares the most of them, counted from the nearest
   word back, wins ("to Paris" -> the role annotated after "to").
2. value: when the same value (casefolded surface text or canonical value)
   was annotated with exactly one role, that role.

Otherwise the entity has no role. Limits: only two words of left context are
looked at, word for word (no stemming, nothing after the entity, no learned
model); a value never annotated and written after unseen words gets no role;
groups are kept on training examples only and never assigned at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lm.language import has_chinese

# Characters of scripts written without spaces: kana, CJK ideographs, hangul.
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
# Words for role context: one token per CJK character, else runs of letters and digits.
_CONTEXT_WORD = re.compile(f"[{_CJK_RANGES}]|[^\\W{_CJK_RANGES}]+")
ROLE_CONTEXT_WORDS = 2

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


def spaced_at_script_boundaries(text: str) -> tuple[str, list[int]] | None:
    """`text` with a space between each CJK character and a neighbouring
    non-space, non-CJK character, and for each character of the result its
    index in `text` (-1 for an inserted space); None when there is no CJK."""
    if not _CJK_CHAR.search(text):
        return None
    chars: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        if i and not char.isspace() and not text[i - 1].isspace() \
                and bool(_CJK_CHAR.match(char)) != bool(_CJK_CHAR.match(text[i - 1])):
            chars.append(" ")
            origin.append(-1)
        chars.append(char)
        origin.append(i)
    return "".join(chars), origin


def _spans(regex: re.Pattern, text: str, spaced: tuple[str, list[int]] | None,
           in_original: bool = True) -> list[tuple[int, int]]:
    """Non-empty match spans in `text`: in the text itself (unless not
    `in_original`) and in its spaced copy, mapped back."""
    spans = [m.span() for m in regex.finditer(text) if m.end() > m.start()] if in_original or spaced is None else []
    if spaced is not None:
        copy, origin = spaced
        for m in regex.finditer(copy):
            kept = [origin[k] for k in range(m.start(), m.end()) if origin[k] >= 0]
            if kept and (kept[0], kept[-1] + 1) not in spans:
                spans.append((kept[0], kept[-1] + 1))
    return spans


def _context(text: str, start: int) -> tuple[str, ...]:
    """The last ROLE_CONTEXT_WORDS words before `start`, casefolded."""
    return tuple(w.casefold() for w in _CONTEXT_WORD.findall(text[:start])[-ROLE_CONTEXT_WORDS:])


def role_evidence(examples: Iterable) -> dict[str, list[dict]]:
    """Entity name -> [{"values", "role", "before"}] from training examples
    (objects with .text and .entities) whose annotations have a role; kept in
    the model so that the extractor can assign roles (see the module doc)."""
    evidence: dict[str, list[dict]] = {}
    for example in examples:
        for entity in example.entities:
            if entity.get("role") is None:
                continue
            surface = example.text[entity["start"]:entity["end"]]
            item = {"values": sorted({surface.casefold(), str(entity["value"]).casefold()}),
                    "role": str(entity["role"]), "before": list(_context(example.text, entity["start"]))}
            if item not in evidence.setdefault(entity["entity"], []):
                evidence[entity["entity"]].append(item)
    return evidence


def _shared_context(before: tuple[str, ...], annotated: list[str]) -> int:
    """How many words match, from the one nearest the entity back, until one differs."""
    shared = 0
    for mine, theirs in zip(reversed(before), reversed(annotated)):
        if mine != theirs:
            break
        shared += 1
    return shared


# Duckling's `number` dimension (what Rasa projects get from DucklingEntityExtractor), for projects that ask
# for it: digits ("5", "9.5", "1,200") and English number words up to twenty.
_NUMBER_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
NUMBER = re.compile(r"(?<![\w.,-])(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w-]|[.,]\d)|(?<![\w-])"
                    r"(?P<word>" + "|".join(_NUMBER_NAMES) + r")(?![\w-])", re.IGNORECASE)
BUILTIN_DIMENSIONS = ("number", "email")  # the Duckling dimensions shopkeep finds itself


def annotated_values(examples: Iterable, regexes: dict, lookups: dict,
                     skip: Iterable[str] = ("email", "quantity", "number")) -> dict[str, list[str]]:
    """Entity -> the surface texts annotated for it in the training examples ("[don't](negation)"), for
    entities with no regex or lookup table of their own: found again, as a lookup table, in new messages.
    This stands in for Rasa's learned entity extractor (DIET) on the values it was shown; a value never
    annotated is not found. Values without a letter (numbers) are left to the number extractor."""
    values: dict[str, set[str]] = {}
    for example in examples:
        for entity in example.entities:
            name = entity["entity"]
            if name in regexes or name in lookups or name in skip:
                continue
            surface = example.text[entity["start"]:entity["end"]].strip()
            if any(ch.isalpha() for ch in surface):
                values.setdefault(name, set()).add(surface)
    return {name: sorted(found) for name, found in values.items()}


class EntityExtractor:
    def __init__(self, regexes: dict[str, list[str]] | None = None, lookups: dict[str, list[str]] | None = None,
                 synonyms: dict[str, str] | None = None, shop_entities: bool = True,
                 roles: dict[str, list[dict]] | None = None, annotated: dict[str, list[str]] | None = None,
                 dimensions: Iterable[str] = ()):
        self.synonyms = {k.casefold(): v for k, v in (synonyms or {}).items()}
        # case-insensitive, as Rasa's RegexEntityExtractor by default ("sk-1005" for SK-\d{4})
        self._patterns = [_Pattern(name, re.compile(p, re.IGNORECASE), "regex")
                          for name, ps in (regexes or {}).items() for p in ps]
        for kind, tables in (("lookup", lookups), ("annotation", annotated)):
            self._patterns += [_Pattern(name, _lookup_regex(vs), kind, {v.strip().casefold(): v.strip() for v in vs})
                               for name, vs in (tables or {}).items()]
        self.shop_entities = shop_entities
        self.roles = roles or {}  # from role_evidence()
        self.dimensions = set(dimensions)  # Duckling dimensions to find (BUILTIN_DIMENSIONS)

    def extract(self, text: str) -> list[dict]:
        found = []
        spaced = spaced_at_script_boundaries(text)
        for pattern in self._patterns:
            for start, end in _spans(pattern.regex, text, spaced):
                surface = text[start:end]
                if pattern.canonical:
                    surface = _listed_form(surface, pattern.canonical)
                found.append(self._entity(pattern.entity, surface, start, end, pattern.extractor))
        if self.shop_entities:
            # Only the spaced copy: in the text itself "我的邮箱是a@b.com" would be one address.
            for start, end in _spans(EMAIL, text, spaced, in_original=False):
                found.append(self._entity("email", text[start:end].lower(), start, end, "shop"))
            for m in QUANTITY.finditer(text):
                raw = (m.group("n") or m.group("zh"))
                value = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw.lower()]
                start = m.start("n") if m.group("n") else m.start("zh")
                found.append({"entity": "quantity", "value": value, "start": start, "end": start + len(raw),
                              "extractor": "shop"})
        if "number" in self.dimensions:
            for m in NUMBER.finditer(text):
                raw = m.group(0)
                if m.group("word"):
                    value = _NUMBER_NAMES.index(raw.lower())
                else:
                    number = float(raw.replace(",", ""))
                    value = int(number) if number.is_integer() and "." not in raw else number
                found.append({"entity": "number", "value": value, "start": m.start(), "end": m.end(),
                              "extractor": "shop"})
        entities = _without_overlaps(found, keep_overlapping={"number"})
        if self.roles:
            for entity in entities:
                role = self.role(text, entity)
                if role is not None:
                    entity["role"] = role
        return entities

    def role(self, text: str, entity: dict) -> str | None:
        """The entity's role by context, else by value (see the module doc)."""
        evidence = self.roles.get(entity["entity"])
        if not evidence:
            return None
        before = _context(text, entity["start"])
        best: dict[str, int] = {}
        for item in evidence:
            shared = _shared_context(before, item["before"])
            best[item["role"]] = max(best.get(item["role"], 0), shared)
        top = max(best.values())
        winners = [role for role, shared in best.items() if shared == top]
        if top > 0 and len(winners) == 1:
            return winners[0]
        keys = {text[entity["start"]:entity["end"]].casefold(), str(entity["value"]).casefold()}
        by_value = {item["role"] for item in evidence if keys & set(item["values"])}
        return by_value.pop() if len(by_value) == 1 else None

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


def _without_overlaps(entities: list[dict], keep_overlapping: set[str] = frozenset()) -> list[dict]:
    """The longest of overlapping entities; those in `keep_overlapping` are kept whatever they overlap
    (Duckling's numbers stand beside the other extractors' entities, as in Rasa)."""
    kept: list[dict] = [e for e in entities if e["entity"] in keep_overlapping]
    for e in sorted((e for e in entities if e["entity"] not in keep_overlapping),
                    key=lambda e: (-(e["end"] - e["start"]), e["start"])):
        if all(e["end"] <= k["start"] or e["start"] >= k["end"] for k in kept if k["entity"] not in keep_overlapping):
            kept.append(e)
    return sorted(kept, key=lambda e: e["start"])
