"""Checking that a generated answer says nothing the store's text does not.

Small models add facts freely ("Yes, we ship to Canada"), so the program,
not the model, decides whether an answer may be sent. This check is
lexical: every number in the answer must appear in the sources beside the
same words; nearly every content word (English) or character pair (Chinese)
must come from the sources or the question; and a negation may neither
appear nor vanish ("we do not ship to Canada" from "we ship to Canada", or
"final sale items are returnable" from "... are non-returnable").
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
_NEGATIONS = frozenset("not no never cannot non without nor none nothing".split())
_WORD_OR_PUNCT = re.compile(r"[a-z]+|[,.;:!?()]")
_NEGATION_WINDOW = 3  # content words this close after a negation are negated
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_NEGATIONS = frozenset("不没無无非未别勿")
# Connecting pairs any polite Chinese answer uses; they state nothing.
_CJK_FILLER = frozenset("您可 可以 我们 您的 如果 需要 请您 您好 谢谢 感谢 是的 的话 以及 或者 就是 这个".split())
_MIN_CJK_OVERLAP = 0.75


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
        if token in _STOP or len(token) <= 2:
            continue
        (negated if since <= _NEGATION_WINDOW else plain).add(_stem(token))
    return negated, plain


def _negations_supported(answer: str, support: str) -> bool:
    """What the answer negates, the sources negate; what the sources only
    ever negate, the answer does not state plainly."""
    negated, plain = _negated_and_plain(answer)
    support_negated, support_plain = _negated_and_plain(support)
    return negated <= support_negated and not (plain & (support_negated - support_plain))


def _cjk_pairs(text: str) -> set[str]:
    """Neighbouring character pairs of each Chinese run (a lone character
    counts alone): Chinese has no spaces, and pairs carry most words."""
    pairs = set()
    for run in _CJK_RUN.findall(text):
        pairs.update({run} if len(run) == 1 else {run[i:i + 2] for i in range(len(run) - 1)})
    return pairs


def _chinese_supported(answer: str, support: str, question: str) -> bool:
    pairs = _cjk_pairs(answer) - _CJK_FILLER
    if not pairs:
        return True
    known = _cjk_pairs(support) | _cjk_pairs(question)
    negations = {run[i:i + 2] for run in _CJK_RUN.findall(answer) for i in range(len(run))
                 if run[i] in _CJK_NEGATIONS}  # each negation with the character it negates
    if negations - known:
        return False  # a negation the sources do not have
    return len(pairs & known) / len(pairs) >= _MIN_CJK_OVERLAP


def is_grounded(answer: str, sources: list[str], question: str = "", min_overlap: float = 0.85) -> bool:
    """True when `answer` makes no claim beyond `sources` (and the question's own words)."""
    if not answer.strip():
        return False
    support = " ".join(sources)
    if not _numbers_supported(answer, support) or not _negations_supported(answer, support):
        return False
    if not _chinese_supported(answer, support, question):
        return False
    words = _content_words(answer)
    if not words:
        return bool(_cjk_pairs(answer) - _CJK_FILLER)  # a Chinese answer, checked above
    known = _content_words(support) | _content_words(question)
    return len(words & known) / len(words) >= min_overlap


def makes_claims(text: str) -> bool:
    """False for text with no content word and no number ("Yes.", "Sure!"):
    such a sentence is checked together with the one after it."""
    return bool(_content_words(text) or _NUMBER.search(text) or _cjk_pairs(text) - _CJK_FILLER)


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def complete_sentences(text: str) -> tuple[list[str], str]:
    """(the complete sentences in `text`, the unfinished rest)."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts[:-1] if p.strip()], parts[-1]
