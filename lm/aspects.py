"""What reviews say about a product's aspects (fit, quality, delivery, price, ...),
and a short per-product summary in English or Chinese.

    summarize(product.reviews, "en")
    # '12 reviews, mostly positive (4.3/5). Praised: quality (5 reviews, "Really well made").
    #  Complaints: delivery (2 reviews, "Took three weeks to arrive").'

Method: each review is cut into clauses (sentences, before "but", and at Chinese commas);
a clause that names an aspect's keyword (a small English and Chinese lexicon,
below) is scored by lm.sentiment, and the aspect counts the review once as
praise or complaint by its most polar such clause. The quote is a clause,
verbatim (cut at QUOTE_CHARS with "…"), from the review that scores
strongest in that direction. Nothing is stated that is not counted in the
reviews: an aspect no review mentions is never named, and the overall verdict
comes from the ratings (or, without ratings, from the scored texts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from lm.sentiment import Sentiment, SentimentAnalyser, get_analyser

QUOTE_CHARS = 120

# aspect -> (English name, Chinese name, English keywords (word starts), Chinese keywords (substrings))
ASPECTS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "fit": ("fit", "尺码", ("fit", "size", "sizing", "too small", "too big", "too large", "too tight", "too loose",
                           "runs small", "runs large", "big heads", "small hands", "big hands"),
            ("尺码", "尺寸", "合身", "偏大", "偏小", "大小", "码数")),
    "quality": ("quality", "质量", ("quality", "well made", "well-made", "material", "durable", "sturdy", "flimsy",
                                   "broke", "broken", "cheaply made", "fell apart", "workmanship", "build",
                                   "stopped working", "chipped", "cracked", "warped", "lasted", "rough spot",
                                   "solid", "well balanced", "pilled", "pilling", "sheds", "shedding",
                                   "frayed", "faded"),
                ("质量", "做工", "材质", "面料", "耐用", "质感", "坏了", "破损")),
    # "arrived" alone is not delivery: "Arrived with a rough spot" is about the product.
    "delivery": ("delivery", "物流", ("deliver", "delivery", "ship", "shipping", "shipped", "arrived quickly",
                                     "arrived late", "arrived early", "arrived on time", "arrived fast",
                                     "late arrival", "package", "packaging", "courier", "came quickly",
                                     "took weeks"),
                 ("物流", "快递", "发货", "送货", "配送", "包装", "到货", "送到")),
    "price": ("price", "价格", ("price", "priced", "value", "worth", "expensive", "overpriced", "money", "cost",
                               "deal", "bargain", "affordable"),
              ("价格", "价钱", "性价比", "便宜", "划算", "太贵", "实惠", "不值")),
    "comfort": ("comfort", "舒适度", ("comfort", "comfortable", "uncomfortable", "soft", "itchy", "hurts", "cozy"),
                ("舒服", "舒适", "柔软", "磨脚", "透气")),
    "taste": ("taste", "口味", ("taste", "tasty", "flavor", "flavour", "delicious", "bland"),
              ("口感", "好吃", "难吃", "口味", "味道", "新鲜", "甜")),
    "smell": ("smell", "气味", ("smell", "scent", "fragrance", "odor", "odour"), ("香味", "气味", "异味", "清香")),
    "battery": ("battery", "电池", ("battery", "charge", "charging"), ("电池", "续航", "充电")),
    "sound": ("sound", "音质", ("sound", "volume", "audio", "noise", "noisy"), ("音质", "声音", "噪音", "音量")),
    "service": ("service", "服务", ("customer service", "seller", "support", "refund", "return", "replacement"),
                ("服务", "客服", "售后", "态度", "退货", "换货", "退款")),
    "ease of use": ("ease of use", "易用性", ("easy to use", "easy to install", "hard to use", "difficult to",
                                             "instructions", "setup", "set up"),
                    ("好用", "方便", "难用", "麻烦", "安装")),
}

# Phrases whose side is known whatever the model says (sizing advice is a complaint; "not itchy" is praise).
COMPLAINTS = re.compile(r"\b(?:runs? (?:a (?:little|bit) )?(?:small|large|big|narrow|wide)|size (?:up|down)|"
                        r"too (?:small|big|large|tight|loose|short|long|narrow|wide)|stopped working|fell apart)\b"
                        r"|偏小|偏大|太小|太大|坏了", re.IGNORECASE)
PRAISE = re.compile(r"\b(?:not (?:itchy|scratchy)|true to size|fits perfectly|no complaints)\b|很合身", re.IGNORECASE)

# Whole words, with plain inflections ("fits", "arrived", "priced").
_EN_PATTERNS = {aspect: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in spec[2]) + r")(?:s|es|d|ed|ing)?\b",
                                   re.IGNORECASE)
                for aspect, spec in ASPECTS.items()}
# Clause ends: sentence punctuation (kept in the clause), and a break before "but" (the contrast starts a clause).
_CLAUSE = re.compile(r"[^.!?;。！？；\n]+[.!?;。！？；]*")
# Chinese clauses end at a full-width comma as well: reviews chain one remark per clause ("质量很好，物流太慢").
# English clauses also end at a comma that starts a new subject ("Great knife, the handle is small").
_CONTRAST = re.compile(r"(?:,\s*|\s+)(?=but\b)|，\s*|,\s*(?=(?:但是|但|不过|可是|就是))"
                       r"|,\s*(?=(?:the|it|its|it's|this|they|though|although|however|only|just)\b)", re.IGNORECASE)


@dataclass
class AspectOpinion:
    """How many reviews praise or criticise one aspect, with a verbatim quote for each side."""

    aspect: str
    positive: int = 0
    negative: int = 0
    positive_quote: str | None = None
    negative_quote: str | None = None
    _best: dict = field(default_factory=dict, repr=False)  # side -> strongest |score| so far


def clauses(text: str) -> list[str]:
    """Verbatim pieces of `text`: sentences, split again before a contrast."""
    out = []
    for match in _CLAUSE.finditer(text):
        for piece in _CONTRAST.split(match.group()):
            if piece.strip(" ,，"):
                out.append(piece.strip(" ,，"))
    return out


def mentioned_aspects(clause: str) -> list[str]:
    """The aspects whose keywords occur in `clause` (English word starts or Chinese substrings)."""
    found = []
    for aspect, (_, _, _, zh_words) in ASPECTS.items():
        if _EN_PATTERNS[aspect].search(clause) or any(word in clause for word in zh_words):
            found.append(aspect)
    return found


def extract_aspects(texts: Sequence[str], analyser: SentimentAnalyser | None = None,
                    ratings: Sequence[float | None] | None = None) -> list[AspectOpinion]:
    """Per aspect mentioned in `texts`, the number of reviews praising and
    criticising it and the strongest verbatim clause for each side; most
    discussed first. A neutral or unscorable clause counts for neither.
    `ratings` (1-5 stars, None where unknown, one per text): a review of one
    clause rated 5 or 1-2 takes its side from its stars, which the shopper
    chose, rather than from the model ("Not itchy at all." at 5 stars is
    praise); COMPLAINTS and PRAISE phrases decide their clause's side."""
    analyser = analyser or get_analyser()
    mentions = []  # (review index, clause, aspects, side from the stars or None)
    for i, text in enumerate(texts):
        pieces = clauses(text or "")
        rating = ratings[i] if ratings is not None and i < len(ratings) else None
        stars = None
        if rating is not None and len(pieces) == 1:  # 4 stars often carry a complaint: the model decides
            stars = 0.99 if rating >= 5 else -0.99 if rating <= 2 else None
        for clause in pieces:
            aspects = mentioned_aspects(clause)
            if aspects:
                mentions.append((i, clause, aspects, stars))
    scored = analyser.run([clause for _, clause, _, _ in mentions])
    # review -> aspect -> most polar (score, clause) of that review about it
    per_review: dict[tuple[int, str], tuple[float, str]] = {}
    for (i, clause, aspects, stars), result in zip(mentions, scored):
        fixed = -0.99 if COMPLAINTS.search(clause) else 0.99 if PRAISE.search(clause) else stars
        if fixed is not None:
            result = Sentiment("positive" if fixed > 0 else "negative", fixed, result.lang)
        if result.label not in ("positive", "negative"):
            continue
        for aspect in aspects:
            old = per_review.get((i, aspect))
            if old is None or abs(result.score) > abs(old[0]):
                per_review[(i, aspect)] = (result.score, clause)
    opinions: dict[str, AspectOpinion] = {}
    for (_, aspect), (score, clause) in per_review.items():
        opinion = opinions.setdefault(aspect, AspectOpinion(aspect))
        side = "positive" if score > 0 else "negative"
        setattr(opinion, side, getattr(opinion, side) + 1)
        if abs(score) > opinion._best.get(side, -1.0):
            opinion._best[side] = abs(score)
            setattr(opinion, f"{side}_quote", _quote(clause))
    return sorted(opinions.values(), key=lambda o: (-(o.positive + o.negative), list(ASPECTS).index(o.aspect)))


def _quote(clause: str) -> str:
    clause = clause.rstrip(";；,，:： ")  # a clause cut before the next one keeps no dangling separator
    return clause if len(clause) <= QUOTE_CHARS else clause[:QUOTE_CHARS - 1].rstrip() + "…"


def _rating_and_text(review) -> tuple[float | None, str]:
    if isinstance(review, str):
        return None, review
    if isinstance(review, (tuple, list)):
        return (float(review[0]) if review[0] is not None else None), str(review[1])
    rating = getattr(review, "rating", None)
    return (float(rating) if rating is not None else None), str(getattr(review, "text", ""))


def summarize(reviews: Iterable, lang: str = "en", analyser: SentimentAnalyser | None = None,
              max_aspects: int = 3) -> str:
    """A short summary of a product's reviews in `lang` ("en" or "zh").
    `reviews`: catalog Review objects (.rating 1-5, .text), (rating, text)
    pairs or plain texts. Raises ValueError for another `lang`."""
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh'. Currently, lang is {lang!r}")
    pairs = [_rating_and_text(r) for r in reviews]
    if not pairs:
        return "还没有评价。" if lang == "zh" else "No reviews yet."
    analyser = analyser or get_analyser()
    texts = [text for _, text in pairs]
    ratings = [r for r, _ in pairs if r is not None]
    verdict = _verdict(ratings, analyser.run(texts))
    opinions = extract_aspects(texts, analyser, [r for r, _ in pairs])
    praised = sorted((o for o in opinions if o.positive), key=lambda o: -o.positive)[:max_aspects]
    criticised = sorted((o for o in opinions if o.negative), key=lambda o: -o.negative)[:max_aspects]
    average = f"{sum(ratings) / len(ratings):.1f}/5" if ratings else None
    words = SUMMARY[lang]
    n = len(pairs)
    parts = [words["head"].format(n=n, s="s" if n != 1 else "", verdict=words["verdicts"][verdict],
                                  average=words["average"].format(average) if average else "")]
    for opinions_, label, count, quote in ((praised, "praised", "positive", "positive_quote"),
                                           (criticised, "criticised", "negative", "negative_quote")):
        if opinions_:
            parts.append(words[label] + words["between"].join(
                words["item"].format(name=ASPECTS[o.aspect][1] if lang == "zh" else o.aspect,
                                     count=getattr(o, count) if lang == "zh" else _count(getattr(o, count)),
                                     quote=getattr(o, quote)) for o in opinions_) + words["end"])
    liked, disliked = _extremes(pairs, praised, criticised)
    if liked:
        parts.append(words["liked"].format(liked))
    if disliked:
        parts.append(words["disliked"].format(disliked))
    return words["join"].join(parts)


# The summary's words: English, and Chinese (Chinese punctuation, aspects by their Chinese names).
SUMMARY = {
    "en": {"verdicts": {"positive": "mostly positive", "negative": "mostly negative", "mixed": "mixed",
                        None: "sentiment unclear"},
           "head": "{n} review{s}, {verdict}{average}.", "average": " ({})",
           "praised": "Praised: ", "criticised": "Complaints: ", "item": '{name} ({count}, "{quote}")',
           "between": "; ", "end": ".", "liked": 'Liked: "{}"', "disliked": 'Disliked: "{}"', "join": " "},
    "zh": {"verdicts": {"positive": "大多好评", "negative": "大多差评", "mixed": "评价不一", None: "无法判断倾向"},
           "head": "共{n}条评价，{verdict}{average}。", "average": "（平均{}）",
           "praised": "好评：", "criticised": "差评：", "item": "{name}（{count}条，“{quote}”）",
           "between": "；", "end": "。", "liked": "好评摘录：“{}”。", "disliked": "差评摘录：“{}”。", "join": ""},
}


def _extremes(pairs: list[tuple[float | None, str]], praised: list, criticised: list) -> tuple[str | None, str | None]:
    """Verbatim quotes of the best-rated (4-5 stars) and worst-rated (1-2 stars)
    review, each only when no aspect on its side was found: a summary of
    reviews that name no aspect still says what people liked and disliked."""
    rated = [(r, t) for r, t in pairs if r is not None and t.strip()]
    best = max(rated, key=lambda p: p[0], default=None)
    worst = min(rated, key=lambda p: p[0], default=None)
    liked = _quote(best[1].strip()) if best and best[0] >= 4 and not praised else None
    disliked = _quote(worst[1].strip()) if worst and worst[0] <= 2 and not criticised else None
    return liked, disliked


def _count(n: int) -> str:
    return f"{n} review{'s' if n != 1 else ''}"


def _verdict(ratings: list[float], results) -> str | None:
    """From ratings when there are any (4-5 good, 1-2 bad), else from the texts' labels."""
    if ratings:
        good, bad = sum(r >= 4 for r in ratings), sum(r <= 2 for r in ratings)
        total = len(ratings)
    else:
        good = sum(r.label == "positive" for r in results)
        bad = sum(r.label == "negative" for r in results)
        total = good + bad + sum(r.label == "neutral" for r in results)
    if not total:
        return None
    if good >= 0.6 * total:
        return "positive"
    if bad >= 0.6 * total:
        return "negative"
    return "mixed"
