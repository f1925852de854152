"""Follow-up questions: "and for international orders?" means nothing alone.

A question that leans on the previous one (it starts like a continuation, or
it is short and points back with "it", "that", "这个"...) is searched with the
previous question's retrieval scores added at a lower weight, and without its
leading "and for" (which pulls MiniLM away from what is asked). Concatenating
the two texts was tried first: the longer previous question dominated, and
"How long does shipping take?" + "what about returns?" found shipping times.
A question that stands on its own is searched alone.
"""

from __future__ import annotations

import re

_CONTINUATION = re.compile(
    r"^\s*(and|also|plus|but|so|what about|how about|same for|and if|what if|or|then)\b"
    r"|^\s*(那|那么|还有|如果|和|而且|另外|至于)", re.IGNORECASE)
_POINTER = re.compile(r"\b(it|its|that|this|those|these|they|them|one|there)\b|它|这个|那个|这些|那些|这样", re.I)
CONTEXT_WEIGHT = 0.5  # the previous question's share of a follow-up's scores
_WORD = re.compile(r"[a-z0-9']+|[\u3400-\u9fff]", re.IGNORECASE)


def needs_context(question: str) -> bool:
    """True when `question` probably leans on the one before it."""
    if _CONTINUATION.search(question):
        return True
    return len(_WORD.findall(question)) <= 6 and bool(_POINTER.search(question))


_LEAD = re.compile(r"^\s*(?:(?:and|also|plus|but|so|or|then|what about|how about|same for|what if)\b[\s,]*"
                   r"(?:(?:for|with|if|about|in)\b\s*)?|(?:那么|那|还有|如果|而且|另外|至于|和))", re.IGNORECASE)


def without_lead(question: str) -> str:
    """The follow-up without its leading "and for" / "what about" / "那": what
    it asks about, which is what should match a passage."""
    core = _LEAD.sub("", question, count=1).strip()
    return core or question
