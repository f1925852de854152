"""A shopper's message -> a structured product request (English and Chinese).

`parse_request(message, previous)` reads what the recommender needs from one
message: what kind of request it is ("similar to X", "what goes with X", or a
plain browse such as "something for my mum under 50"), the product it refers
to (as the shopper wrote it; `knowledge.recommender` resolves it against the
catalog), and constraints: price range, colour, size, category, stock.

A follow-up ("cheaper?", "in blue?", "便宜一点的", "有蓝色的吗") carries no new
subject, so it keeps the previous request and changes only what it names.
"Cheaper" means: below the cheapest product shown last time (pass `shown`
prices), else below the previous price ceiling, else "sort by price".

Rules, not a model: the phrasings below were written for this store's bot and
are covered by tests/knowledge/test_recommender.py. Prices are plain numbers in
the store's currency ("$50", "50元", "50块" all mean 50).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from lm.language import has_chinese

KINDS = ("browse", "similar", "complement")

# Colour words a shopper may use -> the English word matched against catalog colours.
COLOURS = {
    "black": "black", "white": "white", "red": "red", "blue": "blue", "navy": "navy", "green": "green",
    "grey": "grey", "gray": "grey", "pink": "pink", "yellow": "yellow", "purple": "purple", "brown": "brown",
    "orange": "orange", "beige": "beige", "ivory": "ivory", "olive": "olive", "sage": "sage", "tan": "tan",
    "charcoal": "charcoal", "natural": "natural", "oak": "oak", "walnut": "walnut", "silver": "silver",
    "gold": "gold", "rust": "rust", "sand": "sand", "clay": "clay", "mustard": "mustard", "blush": "blush",
    "海军蓝": "navy", "藏青": "navy", "蓝": "blue", "黑": "black", "白": "white", "红": "red", "绿": "green",
    "灰": "grey", "粉": "pink", "黄": "yellow", "紫": "purple", "棕": "brown", "咖啡色": "brown",
    "橙": "orange", "米色": "beige", "米白": "ivory", "橄榄": "olive", "银": "silver", "金": "gold",
}
# Colours that count as a shade of a wider one ("in blue?" accepts navy).
COLOUR_FAMILIES = {"blue": ("navy", "blue stripe"), "grey": ("charcoal", "slate", "stone"),
                   "green": ("sage", "olive", "forest", "green plaid"), "red": ("rust", "terracotta", "red plaid"),
                   "brown": ("walnut", "tan"), "white": ("ivory",), "beige": ("sand", "oat", "oatmeal", "natural")}
COLOUR_ZH = {"black": "黑色", "white": "白色", "red": "红色", "blue": "蓝色", "navy": "海军蓝", "green": "绿色",
             "grey": "灰色", "pink": "粉色", "yellow": "黄色", "purple": "紫色", "brown": "棕色", "orange": "橙色",
             "beige": "米色", "ivory": "米白色", "olive": "橄榄绿", "silver": "银色", "gold": "金色"}
_SIZE_WORDS = {"xs": "XS", "s": "S", "m": "M", "l": "L", "xl": "XL", "xxl": "XXL", "small": "small",
               "medium": "medium", "large": "large", "twin": "twin", "queen": "queen", "king": "king",
               "小号": "small", "中号": "medium", "大号": "large"}

_NUM = r"(\d+(?:\.\d+)?)"
_CUR = r"(?:\$|usd|us\$|¥|￥|rmb|€|£)?\s*"
_UNIT = r"\s*(?:dollars?|bucks|usd|元|块钱?|美元|美金|刀)?"
_PRICE_BETWEEN = [re.compile(rf"between\s+{_CUR}{_NUM}{_UNIT}\s+and\s+{_CUR}{_NUM}", re.I),
                  re.compile(rf"{_CUR}{_NUM}{_UNIT}\s*(?:-|–|to|到|至)\s*{_CUR}{_NUM}{_UNIT}", re.I)]
_PRICE_MAX = [re.compile(rf"(?:under|below|less than|cheaper than|max(?:imum)?|up to|at most|no more than|<=?)"
                         rf"\s*{_CUR}{_NUM}", re.I),
              re.compile(rf"(?:低于|不超过|不到|少于|小于|便宜于){_CUR}{_NUM}"),
              re.compile(rf"{_CUR}{_NUM}{_UNIT}\s*(?:以下|以内|之内|内|or less|and under|max)", re.I)]
_PRICE_MIN = [re.compile(rf"(?:over|above|more than|at least|min(?:imum)?|>=?)\s*{_CUR}{_NUM}", re.I),
              re.compile(rf"(?:高于|超过|不低于|至少|大于){_CUR}{_NUM}"),
              re.compile(rf"{_CUR}{_NUM}{_UNIT}\s*(?:以上|or more|and up|plus)", re.I)]
_CHEAPER = re.compile(r"cheaper|less expensive|lower price|more affordable|便宜|实惠|低一点|更低", re.I)
_PRICIER = re.compile(r"more expensive|pricier|higher end|nicer one|贵一点|更贵|高档一点", re.I)
_SIMILAR = [re.compile(r"(?:similar to|something like|anything like|alternatives? to|"
                       r"(?<!would )(?<!'d )(?<!\bi )like (?:the|my)|more like)\s+(.+)", re.I),
            re.compile(r"(?:和|跟|与|同)(.+?)(?:类似|相似|差不多|一样)"),
            re.compile(r"(?:类似|像)(.+?)的"),
            re.compile(r"(.+?)的(?:同类|类似|替代)")]
_COMPLEMENT = [re.compile(r"(?:what goes (?:well )?with|goes (?:well )?with|to go with|pairs? (?:well )?with|"
                          r"match(?:es)? with|bought (?:together )?with|accessories for|complements?)\s+(.+)", re.I),
               re.compile(r"(?:和|跟|与|配)(.+?)(?:搭配|一起买|配套|一起用|相配)"),
               re.compile(r"(.+?)(?:配什么|搭配什么|和什么搭)")]
_SIZE = [re.compile(r"\bsize\s+([a-z0-9/]+)", re.I), re.compile(r"\b(?:in|a|an)\s+(xxl|xl|xs|s|m|l)\b", re.I),
         re.compile(r"\b(?:in\s+)?(small|medium|large|twin|queen|king)\b(?:\s+size)?", re.I),
         re.compile(r"([a-zA-Z0-9/]+)\s*码"), re.compile(r"(小号|中号|大号)")]
_STOCK_ANY = re.compile(r"out of stock|sold out|even if (?:it'?s )?not in stock|缺货的也|无货的也", re.I)
# Words that say nothing about the product: what is left after them tells a
# follow-up ("and in blue?") from a new request ("a blue jacket").
_FILLER = re.compile(
    r"\b(?:do|does|you|have|has|any|anything|something|some|one|ones|it|that|this|those|these|them|in|a|an|the|"
    r"and|or|what|about|how|please|pls|show|me|maybe|also|instead|is|there|are|got|with|colour|color|option|"
    r"options|version|versions|available|can|i|get|see|other|else|more|less|price|too|still|just|cheaper|"
    r"expensive|ok|okay|then|would|like|want|need|to|for|stock)\b|[?？!！.,，。、~～]|"
    r"有|吗|呢|的|吧|一点|一些|点|还|没有|颜色|色|款|个|要|我|想|看看|请|再|更|便宜|实惠|呀|啊|么|也|那|这|就|可以|能",
    re.I)


class RequestError(ValueError):
    """A request that cannot be built (an unknown kind, a negative price)."""


@dataclass(frozen=True)
class RecommendRequest:
    """What the shopper asked for. Prices are in the store's currency, inclusive.

    kind: "browse" (free text in `query`), "similar" (like `product`) or
    "complement" (what goes with `product`). `product` is the shopper's words
    for a product (or a sku), resolved by the recommender. `sort_by_price`
    asks for the cheapest matches first (a "cheaper?" with no price known).
    """

    kind: str = "browse"
    query: str = ""
    product: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    colour: str | None = None
    size: str | None = None
    category: str | None = None
    in_stock_only: bool = True
    sort_by_price: bool = False
    language: str = "en"  # "en" or "zh": the language of reasons and quick replies
    exclude: tuple[str, ...] = field(default=())  # skus not to show again

    def __post_init__(self):
        if self.kind not in KINDS:
            raise RequestError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.kind != "browse" and not self.product:
            raise RequestError(f"a {self.kind!r} request needs a product")
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RequestError(f"{name} must not be negative; got {value}")


def parse_request(message: str, previous: RecommendRequest | None = None, *, shown: list[float] | tuple = (),
                  categories: tuple[str, ...] | list[str] = ()) -> RecommendRequest:
    """The request in `message`; a follow-up keeps `previous` and changes what it names.

    shown: the prices of the products shown for `previous` (for "cheaper?").
    categories: the catalog's category names, matched as whole words.
    Never raises on free text: anything not understood stays in `query`.
    """
    text = " ".join(message.split())
    language = "zh" if has_chinese(text) else "en"
    rest = text
    kind, product = "browse", None
    for kinds, patterns in (("complement", _COMPLEMENT), ("similar", _SIMILAR)):
        for pattern in patterns:
            match = pattern.search(rest)
            if match:
                ref = _clean_reference(match.group(1))
                if ref:
                    kind, product = kinds, ref
                    rest = rest[:match.start()] + " " + rest[match.end():]
                break
        if product:
            break
    if product:  # constraints written after the product ("similar to the throw under 100")
        product, tail = _split_constraints(product)
        rest = f"{rest} {tail}"

    min_price, max_price, rest = _prices(rest)
    colour, rest = _colour(rest)
    size, rest = _size(rest)
    category = next((c for c in categories if re.search(rf"\b{re.escape(c)}\b", rest, re.I)), None)
    in_stock_only = not _STOCK_ANY.search(text)
    cheaper, pricier = bool(_CHEAPER.search(rest)), bool(_PRICIER.search(rest))
    rest = _CHEAPER.sub(" ", _PRICIER.sub(" ", rest))
    rest = re.sub(r"\b(?:dollars?|bucks|usd)\b|元|块钱?|美元", " ", rest, flags=re.I)
    query = re.sub(r"\s+(?:in|with|for|and|of)$", "", " ".join(rest.split())).strip(" ?？!！.,，。")
    if category:
        query = " ".join(re.sub(rf"\b{re.escape(category)}\b", " ", query, flags=re.I).split())

    says_nothing = not _FILLER.sub(" ", query).strip()
    if says_nothing:
        query = ""
    is_follow_up = previous is not None and product is None and says_nothing
    if is_follow_up:
        request = replace(previous, language=language)
        if min_price is not None or max_price is not None:
            request = replace(request, min_price=min_price, max_price=max_price)
        if colour:
            request = replace(request, colour=colour)
        if size:
            request = replace(request, size=size)
        if category:
            request = replace(request, category=category)
        if not in_stock_only:
            request = replace(request, in_stock_only=False)
    else:
        request = RecommendRequest(kind=kind, query=query if kind == "browse" else "", product=product,
                                   min_price=min_price, max_price=max_price, colour=colour, size=size,
                                   category=category, in_stock_only=in_stock_only, language=language)
    if cheaper:
        ceiling = min(shown) if shown else request.max_price
        if ceiling is not None and max_price is None:
            request = replace(request, max_price=round(max(ceiling - 0.01, 0.0), 2), sort_by_price=False)
        elif ceiling is None:
            request = replace(request, sort_by_price=True)
    if pricier and shown:
        request = replace(request, min_price=round(max(shown) + 0.01, 2), max_price=None, sort_by_price=False)
    return request


def _clean_reference(ref: str) -> str:
    ref = re.sub(r"^(?:the|a|an|my|your|this|that|these|those|那个|这个|那款|这款|我的|你们的)\s*", "", ref.strip(),
                 flags=re.I)
    return ref.strip(" ?？!！.,，。、\"'“”的")


def _split_constraints(ref: str) -> tuple[str, str]:
    """'skillet under 50 in black' -> ('skillet', 'under 50 in black')."""
    cut = re.search(r"\s(?:under|below|less than|over|above|between|in\s+(?:a\s+)?(?:size\s+)?\w+\??$|size|"
                    r"for\s|that|which|cheaper|but)\b|\d+\s*(?:元|块)|以下|以内|便宜", ref, re.I)
    if not cut:
        return ref, ""
    return _clean_reference(ref[:cut.start()]), ref[cut.start():]


def _prices(text: str) -> tuple[float | None, float | None, str]:
    for pattern in _PRICE_BETWEEN:
        match = pattern.search(text)
        if match:
            low, high = sorted((float(match.group(1)), float(match.group(2))))
            return low, high, text[:match.start()] + " " + text[match.end():]
    low = high = None
    for patterns, is_max in ((_PRICE_MAX, True), (_PRICE_MIN, False)):
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                if is_max:
                    high = float(match.group(1))
                else:
                    low = float(match.group(1))
                text = text[:match.start()] + " " + text[match.end():]
                break
    return low, high, text


def _colour(text: str) -> tuple[str | None, str]:
    lowered = text.lower()
    best = None
    for word, colour in COLOURS.items():
        pattern = word if has_chinese(word) else rf"\b{word}\b"
        match = re.search(pattern, lowered)
        if match and (best is None or match.start() < best[0].start()):
            best = (match, colour)
    if best is None:
        return None, text
    match, colour = best
    return colour, text[:match.start()] + " " + text[match.end():]


def _size(text: str) -> tuple[str | None, str]:
    for pattern in _SIZE:
        match = pattern.search(text)
        if match:
            word = match.group(1)
            size = _SIZE_WORDS.get(word.lower(), word.upper() if len(word) <= 3 else word)
            return size, text[:match.start()] + " " + text[match.end():]
    return None, text
