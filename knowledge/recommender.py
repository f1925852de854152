"""Product recommendations: co-purchase signals, product text and popularity.

Two layers:

- `CoPurchaseModel`: item-item collaborative filtering on implicit feedback
  (who interacted with what). Similarity is cosine on binary user-item
  vectors with a shrinkage term, sim(a, b) = |U_a ∩ U_b| / (sqrt(|U_a| |U_b|)
  + shrink) (Sarwar et al. 2001, "Item-based collaborative filtering";
  shrinkage as in Koren 2008). A shopper's score for an item is the sum of its
  similarities to the items in their history, rescaled to [0, 1], plus
  `popularity_weight` times popularity (interaction count / the largest
  count), which also ranks items for shoppers with no history (cold start).
  The defaults (shrink 5, popularity 0.2) were chosen with bench/recommend.py
  on Amazon 2018 gift cards and all-beauty over three splits (latest-out,
  second-latest-out, latest-out with ties broken at random); EASE (Steck
  2019), implicit's ALS and time-decayed co-occurrence were measured and did
  no better (README figures in the module's report, bench/recommend.py).

- `Recommender`: the store's conversational recommender. It takes the
  catalog (`knowledge.catalog.Product`) and interaction records
  (`{"user", "sku", "time"}` dicts: orders, carts, views) and answers a
  `knowledge.recommend_request.RecommendRequest`: hard filters first (price,
  colour, size, category, stock), then a blend of text similarity (MiniLM
  for English, multilingual e5 for Chinese: the encoders
  `knowledge.retrieval` uses), co-purchases and popularity. Every
  recommendation carries a one-line reason, in the shopper's language, made
  only from facts that hold for that product.

Blocking work (loading encoders, embedding the catalog, fitting) happens in
`warm_up()` / the first `run()`: call them from a worker thread, never on the
event loop.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Protocol

import numpy as np

from knowledge.catalog import Product
from knowledge.documents import KnowledgeError
from knowledge.recommend_request import COLOUR_FAMILIES, COLOUR_ZH, RecommendRequest, parse_request
from knowledge.retrieval import ENGLISH_ENCODER, MULTILINGUAL_ENCODER
from lm.language import has_chinese

DEFAULT_SHRINK = 5.0
DEFAULT_POPULARITY_WEIGHT = 0.2


class RecommendError(KnowledgeError):
    """Base of the recommender's errors."""


class UnknownProductError(RecommendError):
    """The request names a product the catalog does not have ("similar to the flying carpet")."""

    def __init__(self, reference: str, language: str = "en"):
        self.reference = reference
        self.language = language
        super().__init__(f"no product in the catalog matches {reference!r}")


class InteractionError(RecommendError):
    """An interaction record is malformed; the message says where."""


@dataclass(frozen=True)
class Interaction:
    """One implicit signal: `user` bought, reviewed or viewed `item` at `time` (unix seconds)."""

    user: str
    item: str
    time: float = 0.0


def interactions_from_records(records: Iterable[dict], item_key: str = "sku") -> list[Interaction]:
    """`{"user", "sku", "time"}` dicts -> Interactions; `time` may be missing (0).

    Raises InteractionError naming the record's position if user or item is missing.
    """
    out = []
    for n, record in enumerate(records, 1):
        try:
            user, item = record["user"], record[item_key]
            time = float(record.get("time") or 0.0)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InteractionError(f"interaction {n}: needs user, {item_key} and a numeric time ({exc!r})") from None
        out.append(Interaction(str(user), str(item), time))
    return out


class CoPurchaseModel:
    """Item-item cosine collaborative filtering with popularity blending.

    fit(interactions) builds an n_items x n_items similarity matrix (float64;
    fine to tens of thousands of items). Scores are unitless: similarity sums
    rescaled so the best item is 1, plus popularity_weight x popularity in [0, 1].
    """

    def __init__(self, shrink: float = DEFAULT_SHRINK, popularity_weight: float = DEFAULT_POPULARITY_WEIGHT):
        if shrink < 0:
            raise ValueError(f"shrink must not be negative. Currently, shrink is {shrink}")
        if popularity_weight < 0:
            raise ValueError(f"popularity_weight must not be negative. Currently, it is {popularity_weight}")
        self.shrink = shrink
        self.popularity_weight = popularity_weight
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.counts = np.zeros(0)  # users per item
        self.together = np.zeros((0, 0))  # users who have both items
        self.similarity = np.zeros((0, 0))
        self.histories: dict[str, set[str]] = {}

    def fit(self, interactions: Iterable[Interaction], extra_items: Iterable[str] = ()) -> "CoPurchaseModel":
        """Learn from the interactions; `extra_items` (e.g. the whole catalog) get a row even with none."""
        from scipy import sparse

        histories: dict[str, set[str]] = defaultdict(set)
        for row in interactions:
            histories[row.user].add(row.item)
        self.histories = dict(histories)
        items = sorted({i for h in histories.values() for i in h} | set(extra_items))
        self.items, self.index = items, {item: n for n, item in enumerate(items)}
        users = list(histories)
        rows = [u for u, user in enumerate(users) for _ in histories[user]]
        cols = [self.index[i] for user in users for i in histories[user]]
        matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(users), len(items)))
        together = (matrix.T @ matrix).toarray()
        self.counts = np.diag(together).copy()
        np.fill_diagonal(together, 0)
        self.together = together
        norm = np.sqrt(np.outer(self.counts, self.counts)) + self.shrink
        self.similarity = np.divide(together, norm, out=np.zeros_like(together), where=norm > 0)
        return self

    @property
    def popularity(self) -> np.ndarray:
        """Interaction counts / the largest count, per item (0..1)."""
        top = self.counts.max() if len(self.counts) else 0
        return self.counts / top if top > 0 else np.zeros(len(self.items))

    def history_scores(self, history: Iterable[str]) -> np.ndarray:
        """Similarity sums to the known items of `history`, rescaled to [0, 1] (zeros if none)."""
        weights = np.zeros(len(self.items))
        for item in history:
            if item in self.index:
                weights[self.index[item]] = 1.0
        scores = weights @ self.similarity
        top = scores.max() if len(scores) else 0
        return scores / top if top > 0 else scores

    def scores(self, history: Iterable[str]) -> np.ndarray:
        """The blended score of every item for a shopper with this history."""
        return self.history_scores(history) + self.popularity_weight * self.popularity

    def recommend(self, history: Iterable[str], k: int, exclude: Iterable[str] = (),
                  popularity_only: bool = False) -> list[str]:
        """The k best items not in `history` or `exclude`, best first (fewer if the catalog is small).
        popularity_only ranks by interaction count alone (the baseline)."""
        history = set(history)
        scores = self.popularity.copy() if popularity_only else self.scores(history)
        for item in history | set(exclude):
            if item in self.index:
                scores[self.index[item]] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.items[j] for j in order if np.isfinite(scores[j])]


class TextEncoder(Protocol):
    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False,
               passage: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class Recommendation:
    """One product card: what the action renders. `price` in `currency` units."""

    sku: str
    title: str
    price: float
    currency: str
    image: str | None
    url: str | None
    reason: str  # one line, in the request's language
    score: float  # unitless, higher is better; for ordering and debugging
    source: str  # "co-purchase", "content" or "popularity": the strongest signal


@dataclass(frozen=True)
class RecommendResult:
    """The answer to one request. `items` may be empty when nothing passes the filters."""

    request: RecommendRequest
    items: list[Recommendation]
    anchor: Product | None = None  # the product a similar/complement request was about
    quick_replies: list[str] = field(default_factory=list)  # follow-ups parse_request understands


_STOP = set("a an the for my me to of and or with in on some something anything any i want need looking please "
            "gift present show one that this is are it".split())
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥"}


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


class Recommender:
    """The store's recommender: `run(request, user=None, k=3) -> RecommendResult`.

    products: the catalog. interactions: `{"user", "sku", "time"}` dicts (or
    `Interaction`s) from orders or any other backend. Encoders are specs for
    `lm.embeddings.get_encoder` (default: the same as the knowledge
    retriever's) or objects with its `encode()`; None turns that text signal
    off. Thread-safe once warmed up; `run` is blocking.
    """

    # Weights of the blend per kind: (text, co-purchase, popularity). Set by
    # hand for a small catalog and checked by tests/knowledge/test_recommender.py.
    WEIGHTS = {"similar": (0.85, 0.1, 0.05), "complement": (0.2, 0.7, 0.1), "browse": (0.6, 0.25, 0.15)}
    # When the shopper's words share none with a product name (Chinese, mostly), the
    # e5 cosine to the product's text must stand out: cosine >= 0.80, z-score over
    # the catalog >= 3.3 and 0.01 above the runner-up. Measured on the demo catalog
    # (4-bit e5): 咖啡 -> coffee kit (0.827, z 4.1), 荷兰锅 -> Dutch oven (0.823, z 3.6)
    # pass; 飞毯 (z 2.5), 手机 (z 3.1, margin 0.011 but cosine 0.778) do not. Strict on
    # purpose: "unknown product" is better than a wrong one.
    NAME_MATCH_E5 = 0.80
    NAME_MATCH_Z = 3.3
    NAME_MATCH_MARGIN = 0.01

    def __init__(self, products: list[Product], interactions: Iterable[dict | Interaction] = (), *,
                 english_encoder: str | TextEncoder | None = ENGLISH_ENCODER,
                 multilingual_encoder: str | TextEncoder | None = MULTILINGUAL_ENCODER,
                 model: CoPurchaseModel | None = None):
        if not products:
            raise ValueError("products must not be empty")
        self.products = list(products)
        self.by_sku = {p.sku: p for p in self.products}
        self._positions = {p.sku: n for n, p in enumerate(self.products)}
        records = list(interactions)
        parsed = [r for r in records if isinstance(r, Interaction)] + interactions_from_records(
            [r for r in records if not isinstance(r, Interaction)])
        self.model = (model or CoPurchaseModel()).fit(
            [r for r in parsed if r.item in self.by_sku], extra_items=self.by_sku)
        self._specs = {"en": english_encoder, "zh": multilingual_encoder}
        self._encoders: dict[str, TextEncoder] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.categories = tuple(sorted({p.category for p in self.products if p.category}))
        self._name_words: set[str] | None = None

    # -- set-up -------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the encoders and embed the catalog, once (blocking, seconds)."""
        with self._lock:
            if self._vectors or not any(self._specs.values()):
                return
            from lm.embeddings import get_encoder

            texts = [self._product_text(p) for p in self.products]
            for lang, spec in self._specs.items():
                if spec is None:
                    continue
                encoder = get_encoder(spec) if isinstance(spec, str) else spec
                self._encoders[lang] = encoder
                self._vectors[lang] = np.asarray(encoder.encode(texts, passage=True), dtype=np.float32)

    @staticmethod
    def _product_text(p: Product) -> str:
        parts = [p.name, p.category, p.description]
        if p.colours:
            parts.append("Colours: " + ", ".join(p.colours))
        return ". ".join(x for x in parts if x)

    # -- the public calls -----------------------------------------------------
    def parse(self, message: str, previous: RecommendRequest | None = None,
              shown: list[Recommendation] | tuple = ()) -> RecommendRequest:
        """`parse_request` with this catalog's categories and the prices of `shown` cards."""
        return parse_request(message, previous, shown=[r.price for r in shown], categories=self.categories)

    def run(self, request: RecommendRequest, user: str | None = None, k: int = 3) -> RecommendResult:
        """Up to k recommendations for the request, best first.

        user: whose purchase history personalises a browse request (None: anonymous).
        Raises UnknownProductError when a similar/complement request names no catalog product.
        """
        if k <= 0:
            raise ValueError(f"k must be greater than 0. Currently, k is {k}")
        self.warm_up()
        anchor = self.resolve(request.product, request.language, strict=True) if request.kind != "browse" else None
        candidates = [p for p in self.products if self._passes(p, request) and (anchor is None or p.sku != anchor.sku)
                      and p.sku not in request.exclude]
        if not candidates:
            return RecommendResult(request, [], anchor, self._quick_replies(request, []))
        idx = np.array([self.model.index[p.sku] for p in candidates])
        text = self._text_scores(request, anchor)[[self._position(p) for p in candidates]]
        if anchor is not None:
            co = self.model.similarity[self.model.index[anchor.sku]]
            co = co / co.max() if co.max() > 0 else co
        else:
            co = (self.model.history_scores(self.model.histories.get(user, ())) if user
                  else np.zeros(len(self.model.items)))
        co = co[idx]
        pop = self.model.popularity[idx]
        w_text, w_co, w_pop = self.WEIGHTS[request.kind]
        if not np.any(text):
            w_text = 0.0
        scores = w_text * text + w_co * co + w_pop * pop
        if request.kind == "complement" and anchor is not None:
            # Something to go with a product is rarely another one of the same kind.
            scores = scores - 0.3 * np.array([p.category == anchor.category and co_i == 0
                                              for p, co_i in zip(candidates, co)])
        if request.sort_by_price:
            order = sorted(range(len(candidates)), key=lambda i: (candidates[i].price, -scores[i]))
        else:
            order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        items = []
        for i in order[:k]:
            p = candidates[i]
            source = ("co-purchase" if co[i] > 0 and w_co * co[i] >= w_text * text[i]
                      else "content" if w_text * text[i] > w_pop * pop[i] else "popularity")
            items.append(Recommendation(sku=p.sku, title=p.name, price=p.price, currency=p.currency, image=p.image,
                                        url=p.url, reason=self._reason(p, request, anchor, user, source),
                                        score=round(float(scores[i]), 4), source=source))
        return RecommendResult(request, items, anchor, self._quick_replies(request, items))

    def recommend(self, message: str, previous: RecommendRequest | None = None, user: str | None = None,
                  k: int = 3, shown: list[Recommendation] | tuple = ()) -> RecommendResult:
        """parse + run in one call: what the rasa action needs per turn."""
        return self.run(self.parse(message, previous, shown), user=user, k=k)

    def resolve(self, reference: str | None, language: str = "en", strict: bool = False) -> Product:
        """The catalog product the shopper means; UnknownProductError if none is close enough.

        Order: sku, the whole name, then word overlap with the name (at least
        half the reference's words; with `strict`, all of them, so "wool
        scarf" is not the Wool Beanie), then (Chinese or no word overlap) the
        e5 cosine between the reference and product names above NAME_MATCH_E5.
        """
        ref = (reference or "").strip()
        if not ref:
            raise UnknownProductError(ref, language)
        lowered = ref.lower()
        for p in self.products:
            if lowered in (p.sku.lower(), p.name.lower()):
                return p
        words = {_stem(w) for w in _words(ref)}
        if words:
            best, best_score = None, 0.0
            for p in self.products:
                name = {_stem(w) for w in _words(p.name)}
                overlap = len(words & name)
                score = overlap / len(words) + 0.1 * overlap / max(len(name), 1)
                needed = len(words) if strict else 0.5 * len(words)
                if overlap and overlap >= needed and score > best_score:
                    best, best_score = p, score
            if best is not None:
                return best
        self.warm_up()
        if "zh" in self._vectors and (has_chinese(ref) or not words):
            q = np.asarray(self._encoders["zh"].encode([ref]), dtype=np.float32)[0]
            sims = self._vectors["zh"] @ q
            order = np.argsort(-sims)
            top, second = float(sims[order[0]]), float(sims[order[1]]) if len(sims) > 1 else 0.0
            z = (top - float(sims.mean())) / (float(sims.std()) or 1.0)
            if top >= self.NAME_MATCH_E5 and z >= self.NAME_MATCH_Z and top - second >= self.NAME_MATCH_MARGIN:
                return self.products[int(order[0])]
        raise UnknownProductError(ref, language)

    # -- scoring --------------------------------------------------------------
    def _position(self, p: Product) -> int:
        return self._positions[p.sku]

    def _text_scores(self, request: RecommendRequest, anchor: Product | None) -> np.ndarray:
        """Cosine of each product's text to the anchor's (similar) or the query, clipped to [0, 1]."""
        n = len(self.products)
        if anchor is not None:
            vectors = self._vectors.get("en", self._vectors.get("zh"))
            if vectors is None:
                return np.zeros(n)
            return np.clip(vectors @ vectors[self._position(anchor)], 0, 1)
        if not request.query:
            return np.zeros(n)
        lang = "zh" if has_chinese(request.query) or "en" not in self._vectors else "en"
        if lang not in self._vectors:
            return np.zeros(n)
        q = np.asarray(self._encoders[lang].encode([request.query]), dtype=np.float32)[0]
        sims = self._vectors[lang] @ q
        # Rescale over the catalog: e5 cosines sit in a narrow band (0.75-0.9).
        low, high = float(sims.min()), float(sims.max())
        return (sims - low) / (high - low) if high > low else np.zeros(n)

    @staticmethod
    def _colour_ok(p: Product, colour: str) -> bool:
        family = (colour, *COLOUR_FAMILIES.get(colour, ()))
        return any(c.lower() == f or f in c.lower().split() for c in p.colours for f in family)

    def _passes(self, p: Product, r: RecommendRequest) -> bool:
        if r.in_stock_only and p.in_stock <= 0:
            return False
        if r.max_price is not None and p.price > r.max_price:
            return False
        if r.min_price is not None and p.price < r.min_price:
            return False
        if r.colour and not self._colour_ok(p, r.colour):
            return False
        if r.size and not any(s.lower() == r.size.lower() for s in p.sizes):
            return False
        if r.category and p.category.lower() != r.category.lower():
            return False
        kinds = self._kinds_named(r.query)
        if kinds and not kinds & {_stem(w) for w in _words(p.name)}:
            return False  # "a red chair" is a chair: the kind of product named is a filter too
        return True

    def _kinds_named(self, query: str) -> set[str]:
        """The words of an English query that name a kind of product the catalog has
        in a product's name ("chair", "dutch oven" -> {"chair"}, {"dutch", "oven"})."""
        if not query or has_chinese(query):
            return set()
        if self._name_words is None:
            self._name_words = {_stem(w) for p in self.products for w in _words(p.name)}
        generic = {"gift", "present", "mum", "mom", "dad", "friend", "home", "kitchen", "new", "nice", "cheap"}
        return {_stem(w) for w in _words(query) if w not in generic} & self._name_words

    # -- words ----------------------------------------------------------------
    def _money(self, amount: float, currency: str) -> str:
        sign = _CURRENCY_SIGNS.get(currency)
        value = f"{amount:.0f}" if float(amount).is_integer() else f"{amount:.2f}"
        return f"{sign}{value}" if sign else f"{value} {currency}"

    def _reason(self, p: Product, r: RecommendRequest, anchor: Product | None, user: str | None,
                source: str) -> str:
        zh = r.language == "zh"
        matches = []
        if r.kind == "browse" and r.query and not has_chinese(r.query):
            text_words = {_stem(w) for w in _words(self._product_text(p))}
            matches += [w for w in dict.fromkeys(_words(r.query)) if _stem(w) in text_words][:3]
        if r.colour:
            shade = next(c for c in p.colours if self._colour_ok(Product("", "", "", 0, "", 0, "", (c,)), r.colour))
            matches.append(COLOUR_ZH.get(shade, shade) if zh else shade)
        if r.size:
            matches.append(f"{r.size}码" if zh else f"size {r.size}")
        if r.max_price is not None:
            limit = self._money(r.max_price, p.currency)
            matches.append(f"{limit}以下" if zh else f"under {limit}")
        if r.min_price is not None:
            limit = self._money(r.min_price, p.currency)
            matches.append(f"{limit}以上" if zh else f"over {limit}")
        lead = ""
        if anchor is not None and self.model.together[self.model.index[anchor.sku], self.model.index[p.sku]] > 0:
            lead = f"常与{anchor.name}一起购买" if zh else f"bought together with {anchor.name}"
        elif anchor is not None and r.kind == "similar" and source == "content":
            lead = f"与{anchor.name}相似" if zh else f"similar to {anchor.name}"
        elif user and source == "co-purchase":
            bought = [self.by_sku[s].name for s in self.model.histories.get(user, ())
                      if s in self.by_sku and self.model.together[self.model.index[s], self.model.index[p.sku]] > 0]
            if bought:
                lead = f"买过{bought[0]}的顾客也买了它" if zh else f"shoppers who bought {bought[0]} also bought this"
        if not lead and not matches:
            rating = p.average_rating
            if rating is not None and rating >= 4:
                return (f"好评：{rating:.1f}/5（{len(p.reviews)}条评价）" if zh
                        else f"well reviewed: {rating:.1f}/5 from {len(p.reviews)} reviews")
            count = int(self.model.counts[self.model.index[p.sku]])
            if count:
                return f"热门：{count}位顾客买过" if zh else f"popular: bought by {count} shoppers"
            return f"{p.category}类商品" if zh else f"from our {p.category} range"
        if matches:
            tail = ("符合：" + "、".join(matches)) if zh else "matches: " + ", ".join(matches)
            return f"{lead}；{tail}" if zh and lead else f"{lead}; {tail}" if lead else tail
        return lead

    def _quick_replies(self, r: RecommendRequest, items: list[Recommendation]) -> list[str]:
        zh = r.language == "zh"
        replies = []
        if items and min(i.price for i in items) > min(p.price for p in self.products):
            replies.append("便宜一点的" if zh else "Cheaper?")
        colours = [c for i in items for c in self.by_sku[i.sku].colours if c in COLOUR_ZH and c != r.colour]
        if colours:
            c = colours[0]
            replies.append(f"有{COLOUR_ZH[c]}的吗" if zh else f"In {c}?")
        if items:
            replies.append(f"和{items[0].title}类似的" if zh else f"Similar to {items[0].title}")
        return replies


def demo_interactions_path():
    """The demo store's made-up interactions (knowledge/demo/interactions.jsonl)."""
    from pathlib import Path

    return Path(__file__).parent / "demo" / "interactions.jsonl"


def load_interactions(path) -> list[dict]:
    """`{"user", "sku", "time"}` JSON lines; lines starting with // or # are comments.

    Raises InteractionError with file:line on a malformed line.
    """
    import json
    from pathlib import Path

    path = Path(path)
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InteractionError(f"{path}: file not found") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith(("//", "#")):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InteractionError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not isinstance(row.get("user"), str) or not isinstance(row.get("sku"), str):
            raise InteractionError(f"{path}:{number}: each line needs \"user\" and \"sku\" strings")
        out.append(row)
    return out
