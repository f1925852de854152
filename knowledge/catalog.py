"""The product catalog: what the store sells, with prices, stock and reviews."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.documents import KnowledgeError


@dataclass(frozen=True)
class Review:
    rating: int  # 1 to 5
    text: str


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float
    currency: str
    in_stock: int
    description: str
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    reviews: tuple[Review, ...] = field(default=())
    url: str | None = None  # the product's page on the store's site
    image: str | None = None  # a picture of it (URL), for product cards
    final_sale: bool = False  # cannot be returned or exchanged
    returnable: bool = True  # False for items the policy excludes (personalised items, gift cards)

    @property
    def average_rating(self) -> float | None:
        return sum(r.rating for r in self.reviews) / len(self.reviews) if self.reviews else None


def load_catalog(path: str | Path) -> list[Product]:
    """Read a JSON list of products, checking what a shopper would be told."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{path}: not a valid UTF-8 JSON file: {exc}") from None
    if not isinstance(rows, list):
        raise KnowledgeError(f"{path}: expected a list of products")
    products, seen = [], set()
    for n, row in enumerate(rows, 1):
        product = product_from_row(row, f"{path}: product {n}")
        if product.sku in seen:
            raise KnowledgeError(f"{path}: duplicate sku {product.sku!r} (product {n})")
        seen.add(product.sku)
        products.append(product)
    return products


def product_from_row(row: dict, where: str) -> Product:
    """One catalog row as a Product; KnowledgeError says `where` it is wrong."""
    try:
        reviews = tuple(Review(int(r["rating"]), str(r["text"])) for r in row.get("reviews", []))
        product = Product(sku=str(row["sku"]), name=str(row["name"]), category=str(row.get("category", "")),
                          price=float(row["price"]), currency=str(row.get("currency", "USD")),
                          in_stock=int(row.get("in_stock", 0)), description=str(row.get("description", "")),
                          colours=tuple(row.get("colours", [])), sizes=tuple(row.get("sizes", [])),
                          reviews=reviews, url=_text_or_none(row.get("url")), image=_text_or_none(row.get("image")),
                          final_sale=_flag(row.get("final_sale", False)), returnable=_flag(row.get("returnable", True)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KnowledgeError(f"{where}: product is incomplete or malformed: {exc!r}") from None
    if product.price < 0 or any(not 1 <= r.rating <= 5 for r in reviews):
        raise KnowledgeError(f"{where}: product {product.sku} has a negative price or a rating outside 1-5")
    return product


def _text_or_none(value) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value or None


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value
