"""Checking that a generated answer says nothing the store's text does not.

Small models add facts freely ("Yes, we ship to Canada"), so the program,
not the model, decides whether an answer may be sent. This first check is
lexical: every number in the answer must appear in the sources beside the
same words, and nearly every content word must come from the sources or the
question.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z]+")
# Words that carry no claim of their own.
_STOP = set("""a an the and or but if then so to of in on at by for with from as is are was were be been
being it its this that these those you your yours we our us i me my they them their he she his her do does
did done can could will would should may might must have has had not no yes any all some there here what
when where which who how why also just only very more most than too about into out up down over again
please thank thanks sure hi hello get got let lets okay ok store shop great good question glad happy help
certainly course absolutely""".split())


_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")


def _numbers_in_context(text: str) -> tuple[list[tuple[str, str, str]], set[tuple[str, str]]]:
    """Each number with its neighbouring tokens, and all token pairs of `text`."""
    tokens = [t.replace(",", "") for t in _TOKEN.findall(text.lower())]
    padded = ["", *tokens, ""]
    numbers = [(padded[i - 1], padded[i], padded[i + 1]) for i in range(1, len(padded) - 1)
               if _NUMBER.fullmatch(padded[i])]
    return numbers, set(zip(padded, padded[1:]))


def _numbers_supported(answer: str, support: str) -> bool:
    """A number must stand in the sources next to one of its neighbours, so
    that "2 to 5 days" is not taken as supported by "3 to 5 days ... 1 to 2"."""
    numbers, _ = _numbers_in_context(answer)
    _, pairs = _numbers_in_context(support)
    return all((before, n) in pairs or (n, after) in pairs for before, n, after in numbers)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def is_grounded(answer: str, sources: list[str], question: str = "", min_overlap: float = 0.85) -> bool:
    """True when `answer` makes no claim beyond `sources` (and the question's own words)."""
    if not answer.strip():
        return False
    support = " ".join(sources)
    if not _numbers_supported(answer, support):
        return False
    words = _content_words(answer)
    if not words:
        return False
    known = _content_words(support) | _content_words(question)
    return len(words & known) / len(words) >= min_overlap


def makes_claims(text: str) -> bool:
    """False for text with no content word and no number ("Yes.", "Sure!"):
    such a sentence is checked together with the one after it."""
    return bool(_content_words(text) or _NUMBER.search(text))


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def complete_sentences(text: str) -> tuple[list[str], str]:
    """(the complete sentences in `text`, the unfinished rest)."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts[:-1] if p.strip()], parts[-1]
