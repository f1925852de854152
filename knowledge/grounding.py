"""Checking that a sentence the language model wrote restates the store's text
without losing a condition.

Small models drop qualifiers ("Shipping takes 1 to 2 business days" from a
passage whose 1 to 2 days are the express tier) and agree with the shopper
("Yes, you can claim a bereavement discount"). A bag-of-words check passes
both: every word occurs somewhere in the passage or the question. This check
instead aligns the generated sentence to the store sentences it restates and
requires, of those sentences:

- every content word of the generated sentence (the question's own words
  do not count: they are what a false premise is made of);
- every number, beside one of its neighbours ("2 to 5 days" is not "3 to 5");
- every restrictive word: only, until, unless, except, not, free, standard,
  express, international, final sale... (`compose.RESTRICTIVE`), and every
  number, so "Yes, you can cancel" fails against "...until it is packed";
- the same negations: none may appear or vanish;
- a leading "Yes" only when the aligned sentence is affirmative and covers
  what the question asks, and, where the store's text makes an exception or
  negates anything, only a qualified one ("Yes, but...", "Yes, until...");
  a leading "No" only when the aligned sentence negates.
"""

from __future__ import annotations

import re

from knowledge.compose import RESTRICTIVE
from lm.language import has_chinese

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z]+")
# Words that carry no claim of their own.
_STOP = set("""a an the and or but if then so to of in on at by for with from as is are was were be been
being it its this that these those you your yours we our us i me my they them their he she his her do does
did done can could will would should may might must have has had not no yes any all some there here what
when where which who how why also just only very more most than too about into out up down over again
please thank thanks sure hi hello get got let lets okay ok great good question glad happy help
certainly course absolutely""".split())
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")
_NEGATIONS = frozenset("not no never cannot non without nor none nothing".split())
_WORD_OR_PUNCT = re.compile(r"[a-z]+|[,.;:!?()]")
_NEGATION_WINDOW = 3  # content words this close after a negation are negated
_EXCEPTION = re.compile(r"\b(except|unless|only|excluding)\b", re.IGNORECASE)
_QUALIFIED = re.compile(r"\b(but|except|unless|only|until|as long as|not|no longer|cannot)\b", re.IGNORECASE)
_LEAD = re.compile(r"^\W*(yes|yeah|yep|sure|of course|absolutely|no|nope)\b", re.IGNORECASE)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    # two-letter words count: "to the UK" is a claim the store's text must make
    return {_stem(w) for w in _WORD.findall(text.lower().replace("n't", " not")) if w not in _STOP and len(w) > 1}


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


def _negated_and_plain(text: str) -> tuple[set[str], set[str]]:
    """(content words standing just after a negation, content words standing
    anywhere else), stemmed; "n't" counts as "not"."""
    tokens = _WORD_OR_PUNCT.findall(text.lower().replace("n't", " not"))
    negated, plain, since = set(), set(), _NEGATION_WINDOW + 1
    for token in tokens:
        if not token[0].isalpha():  # "No, ..." negates nothing after the comma
            since = _NEGATION_WINDOW + 1
            continue
        if token in _NEGATIONS:
            since = 0
            continue
        since += 1
        if token in _STOP or len(token) <= 1:
            continue
        (negated if since <= _NEGATION_WINDOW else plain).add(_stem(token))
    return negated, plain


def _negations_supported(answer: str, support: str) -> bool:
    """What the answer negates, the sources negate; what the sources only
    ever negate, the answer does not state plainly."""
    negated, plain = _negated_and_plain(answer)
    support_negated, support_plain = _negated_and_plain(support)
    return negated <= support_negated and not (plain & (support_negated - support_plain))


def _restrictions(text: str) -> set[str]:
    """The restrictive words and the numbers of `text`, lower-cased."""
    words = {m.group().lower() for m in RESTRICTIVE.finditer(text)}
    words |= {n.replace(",", "") for n in _NUMBER.findall(text)}
    return words


def _has_negation(text: str) -> bool:
    return bool(set(_WORD.findall(text.lower().replace("n't", " not"))) & _NEGATIONS)


def align(sentence: str, sources: list[str], max_sources: int = 2) -> list[str] | None:
    """The store sentences (at most `max_sources`, in their order) whose
    content words hold every content word of `sentence`, or None."""
    words = content_words(_LEAD.sub("", sentence))
    if not words:
        return None
    covers = [(len(words & content_words(s)), i) for i, s in enumerate(sources)]
    best = max(covers, default=(0, -1))
    if best[0] == 0:
        return None
    if words <= content_words(sources[best[1]]):
        return [sources[best[1]]]
    if max_sources >= 2:
        for i, first in enumerate(sources):
            for second in sources[i + 1:]:
                if words <= content_words(first) | content_words(second):
                    return [first, second]
    return None


def check_sentence(sentence: str, sources: list[str], question: str = "") -> str | None:
    """None when `sentence` faithfully restates store sentences in `sources`;
    otherwise why not (for the log). English only: a sentence with Chinese
    characters is never accepted here (the store's Chinese text is quoted)."""
    if not sentence.strip() or has_chinese(sentence):
        return "empty or not English"
    aligned = align(sentence, sources)
    if aligned is None:
        return "says something no store sentence says"
    support = " ".join(aligned)
    if not _numbers_supported(sentence, support):
        return "a number the store's text does not give in that context"
    if not _negations_supported(sentence, support):
        return "a negation added or dropped"
    lost = _restrictions(support) - _restrictions(sentence)
    if lost:
        return f"drops the condition(s) {sorted(lost)}"
    lead = _LEAD.match(sentence)
    if lead:
        if lead.group(1).lower() in ("no", "nope"):
            if not _has_negation(support):
                return "'No' where the store's text negates nothing"
        else:
            if _has_negation(support):
                return "'Yes' where the store's text negates"
            if any(_has_negation(x) or _EXCEPTION.search(x) for x in sources) and not _QUALIFIED.search(sentence):
                # "Yes, you can return sale items" while the text goes on "Final Sale items cannot be returned"
                return "an unqualified 'Yes' where the store's text makes an exception"
            asked = content_words(question)
            if asked and len(asked & content_words(support)) / len(asked) < 0.75:
                return "'Yes' to a question the store's text does not answer"
    return None


def makes_claims(text: str) -> bool:
    """False for text with no content word and no number ("Yes.", "Sure!")."""
    return bool(content_words(text) or _NUMBER.search(text) or has_chinese(text))


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def complete_sentences(text: str) -> tuple[list[str], str]:
    """(the complete sentences in `text`, the unfinished rest)."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts[:-1] if p.strip()], parts[-1]
