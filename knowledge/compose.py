"""Composing an answer from the store's own sentences.

The store's text is the ground truth, and a small language model that
rewrites it drops conditions ("Shipping takes 1 to 2 business days" from a
passage whose 1 to 2 days are the express tier). So the body of every
knowledge answer is the store's own sentences:

- an FAQ answer is kept whole: its sentences qualify each other (the other
  tier, the exception, the deadline), and FAQ answers are short;
- a long page section keeps the sentences that answer the question plus
  every sentence that qualifies them (the sentence after one it leans on,
  "This does not apply to...", and any sentence that shares the subject and
  carries a restrictive word: only, until, unless, except, not...);
- a product keeps the facts asked about (price, stock, colours, sizes,
  rating) when the question names one, else all of them; stock always comes
  with the colours and sizes it is for, and with the number available;
- a leading "Yes." / "No," of the store's text is dropped: it answers the
  passage's own question, which is rarely exactly the shopper's ("Can I
  return a gift card?" -> "Yes. Gift returns are refunded..."). Only the
  checked lead (knowledge.grounding) says yes or no.
"""

from __future__ import annotations

import re

from knowledge.documents import Passage
from knowledge.query import content_words

# Abbreviations whose dot does not end a sentence.
_ABBREVIATIONS = re.compile(r"\b(?:[ap]\.m|U\.S|U\.K|e\.g|i\.e|etc|approx|Mr|Mrs|Ms|Dr|St|No|vs|Inc|Ltd|Co)\.",
                            re.IGNORECASE)
_DOT = "\u2024"  # one-dot leader: stands in for a protected dot while splitting
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"“(\[]?[A-Z0-9$£€])|(?<=[。！？；])")
RESTRICTIVE = re.compile(
    r"\b(only|until|unless|except|excluding|excluded|but|however|not|no|never|cannot|can't|won't|don't|doesn't|"
    r"isn't|aren't|without|within|before|after|over|under|above|below|least|most|maximum|minimum|up to|"
    r"final sale|free|standard|express|international|domestic|outside|inside|per|each|once|if|when|as long as|"
    r"provided|required|must|need)\b|仅|只|除|不|没|无|须|必须|以内|之前|之后|超过|以上|以下|满",
    re.IGNORECASE)
_LEANS_BACK = re.compile(r"^(this|that|these|those|it|they|such|however|but|otherwise|after that|in that case|"
                         r"if so|if not|unless|except|then|also)\b|^(这|此|但|不过|否则|如果|除)", re.IGNORECASE)
_YES_NO = re.compile(r"^\s*(yes|no)\b[\s,.!;:]*|^\s*(是的|对|可以|不可以|不能|不行)[，,。！!]\s*", re.IGNORECASE)

# Product facts as written by knowledge.documents.product_passage, and the words that ask for each.
_PRODUCT_FACTS = {
    "price": (r"^Price:", r"how much|price|cost|expensive|cheap|多少钱|价格|价钱|几块|贵"),
    "stock": (r"in stock|out of stock", r"stock|available|availability|sold out|have any|有货|库存|现货|缺货|卖完"),
    "colours": (r"^Colou?rs:", r"colou?r|shade|颜色|色"),
    "sizes": (r"^Sizes:", r"size|fit|dimension|big|small|尺码|尺寸|大小|码"),
    "rating": (r"^Average rating", r"rating|review|rated|stars?|people say|评价|评分|口碑|好评"),
}


_ASKS_PRODUCT_FACT = re.compile("|".join(f"(?:{asks})" for _, asks in _PRODUCT_FACTS.values()), re.IGNORECASE)


def asks_product_fact(question: str) -> bool:
    """True when `question` asks for a product's price, stock, colours, sizes or rating."""
    return _ASKS_PRODUCT_FACT.search(question) is not None


def without_product_fact_words(question: str) -> str:
    """`question` without the words that ask for a product fact ("how much is shipping?" -> "is shipping?")."""
    return _ASKS_PRODUCT_FACT.sub(" ", question)


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage, without breaking "2 p.m. Eastern" or "U.S. states"."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group().replace(".", _DOT), text.strip())
    return [s.replace(_DOT, ".").strip() for s in _SPLIT.split(protected) if s.strip()]


def _words(text: str) -> set[str]:
    return {w[:5] for w in content_words(text)}  # a crude stem: "returns" and "returned" meet


def compose(question: str, passage: Passage, max_sentences: int = 5) -> list[str]:
    """The sentences of `passage` that answer `question` with every condition
    kept, without the store's leading "Yes"/"No"."""
    parts = split_sentences(passage.text)
    if passage.kind == "product":
        parts = _product_facts(question, parts)
    elif len(parts) > max_sentences:
        parts = _qualified_selection(question, parts)
    if parts:
        first = _YES_NO.sub("", parts[0], count=1)
        if first != parts[0]:
            parts = ([first[0].upper() + first[1:]] if first else []) + parts[1:]
    return parts


def _product_facts(question: str, facts: list[str]) -> list[str]:
    asked = [fact for fact, asks in _PRODUCT_FACTS.values() if re.search(asks, question, re.IGNORECASE)]
    if _PRODUCT_FACTS["stock"][0] in asked:
        # stock is for the listed colours and sizes: "In stock." alone would say yes to "in XXL?"
        asked += [_PRODUCT_FACTS["colours"][0], _PRODUCT_FACTS["sizes"][0]]
    if not asked:
        return facts
    chosen = [f for f in facts if any(re.search(pattern, f, re.IGNORECASE) for pattern in asked)]
    return chosen or facts


def _qualified_selection(question: str, parts: list[str]) -> list[str]:
    """The sentences sharing most words with the question, and each sentence
    that qualifies a chosen one (leans back on it, or shares its subject and
    carries a restrictive word)."""
    asked = _words(question)
    overlap = [len(asked & _words(s)) for s in parts]
    best = max(overlap)
    if best == 0:
        return parts[:3]
    chosen = {i for i, n in enumerate(overlap) if n >= max(1, best - 1)}
    for i in sorted(chosen):
        subject = _words(parts[i])
        for j, sentence in enumerate(parts):
            if j in chosen:
                continue
            leans = j == i + 1 and _LEANS_BACK.search(sentence)
            qualifies = RESTRICTIVE.search(sentence) and len(subject & _words(sentence)) >= 2
            if leans or qualifies:
                chosen.add(j)
    return [parts[i] for i in sorted(chosen)]
