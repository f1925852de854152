"""The store's own records behind one small interface: orders, products,
inventory, customers and purchase history.

Actions and the recommender only talk to a `Shop`:

- `FileShop` (`knowledge.shop.files`) reads a folder of JSON files, the demo
  store's by default, and keeps the changes actions make (cancellations,
  returns, address changes) in a journal next to the data directory.
- `HttpShop` (`knowledge.shop.http`) calls a real shop backend over a small
  documented REST shape (see that module and README.md, "Store data").

`open_shop(...)` picks one from the configuration's settings. Errors are
`ShopError` subclasses: `ShopUnavailable` when the backend cannot be reached
or fails (5xx, timeout), `ShopRefused` when it declines a change (an order
already packed), `ShopDataError` for a record that cannot be read.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Protocol

from knowledge.catalog import Product

# SK-1234, sk1234, SK 1234, #SK-1234 -> SK-1234 (the demo store's numbering)
DEFAULT_ORDER_ID = r"#?\s*sk[\s-]?(\d{4,8})"


class ShopError(Exception):
    """Base of the store-data errors."""


class ShopUnavailable(ShopError):
    """The backend could not be reached, timed out or failed (HTTP 5xx)."""


class ShopRefused(ShopError):
    """The backend declined a change; `reason` is its short code (e.g. "already_packed")."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason


class ShopDataError(ShopError):
    """A record from the backend or a file is malformed; the message says where."""


@dataclass(frozen=True)
class Address:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""

    def one_line(self) -> str:
        return ", ".join(p for p in (self.name, self.line1, self.line2, self.city,
                                     " ".join(x for x in (self.region, self.postcode) if x), self.country) if p)

    @classmethod
    def from_dict(cls, row: dict | None) -> "Address":
        row = row or {}
        return cls(**{k: str(row.get(k) or "") for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price: float


@dataclass(frozen=True)
class Order:
    """One order. Dates are ISO dates (YYYY-MM-DD) in the store's time zone;
    `placed_at` is an ISO timestamp when the backend knows it."""

    order_id: str
    status: str  # processing, on_hold, packed, shipped, partially_shipped, delayed, delivered, cancelled,
    # return_requested, returned, refunded (others are shown as written)
    email: str
    items: tuple[OrderLine, ...]
    total: float
    currency: str = "USD"
    placed_on: str | None = None
    placed_at: str | None = None
    shipping_address: Address = field(default_factory=Address)
    carrier: str | None = None
    tracking_number: str | None = None
    estimated_delivery: str | None = None
    delivered_on: str | None = None
    note: str | None = None
    returns: tuple[dict, ...] = ()  # the returns/exchanges already requested on it

    @classmethod
    def from_dict(cls, row: dict, where: str = "order") -> "Order":
        try:
            items = tuple(OrderLine(str(i["sku"]), str(i["name"]), int(i.get("quantity", 1)),
                                    float(i.get("unit_price", 0))) for i in row["items"])
            return cls(order_id=str(row["order_id"]), status=str(row["status"]), email=str(row.get("email") or ""),
                       items=items, total=float(row.get("total", 0)), currency=str(row.get("currency", "USD")),
                       placed_on=row.get("placed_on"), placed_at=row.get("placed_at"),
                       shipping_address=Address.from_dict(row.get("shipping_address")),
                       carrier=row.get("carrier"), tracking_number=row.get("tracking_number"),
                       estimated_delivery=row.get("estimated_delivery"), delivered_on=row.get("delivered_on"),
                       note=row.get("note"), returns=tuple(row.get("returns") or ()))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ShopDataError(f"{where}: malformed order record: {exc!r}") from None

    def to_dict(self) -> dict:
        return asdict(self)

    def placed_time(self) -> datetime | None:
        """When the order was placed (UTC), from `placed_at`, else midnight UTC of `placed_on`."""
        for value in (self.placed_at, self.placed_on):
            if value:
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    continue
                return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return None

    def delivered_date(self) -> date | None:
        try:
            return date.fromisoformat(self.delivered_on) if self.delivered_on else None
        except ValueError:
            return None


@dataclass(frozen=True)
class ReturnRecord:
    """A return or exchange the backend created."""

    return_id: str
    order_id: str
    kind: str  # "return" or "exchange"
    skus: tuple[str, ...]
    status: str = "requested"
    label_url: str | None = None  # the prepaid label, when the backend makes one at once
    exchange_for: str | None = None  # e.g. "size M" or "blue"

    @classmethod
    def from_dict(cls, row: dict) -> "ReturnRecord":
        try:
            return cls(return_id=str(row["return_id"]), order_id=str(row["order_id"]), kind=str(row["kind"]),
                       skus=tuple(row.get("skus") or ()), status=str(row.get("status", "requested")),
                       label_url=row.get("label_url"), exchange_for=row.get("exchange_for"))
        except (KeyError, TypeError) as exc:
            raise ShopDataError(f"malformed return record: {exc!r}") from None


@dataclass(frozen=True)
class Customer:
    customer_id: str
    email: str
    name: str = ""


class Shop(Protocol):
    """What actions and the recommender need from the store's systems. All
    methods may raise ShopUnavailable; the changes may raise ShopRefused."""

    async def order(self, order_id: str) -> Order | None:
        """The order with this canonical id, or None."""

    async def cancel_order(self, order_id: str, reason: str = "") -> Order:
        """Cancel it; the updated order."""

    async def create_return(self, order_id: str, skus: list[str], kind: str, reason: str = "",
                            exchange_for: str | None = None) -> ReturnRecord:
        """Open a return ("return") or exchange ("exchange") for these lines."""

    async def change_address(self, order_id: str, address: Address) -> Order:
        """Replace the shipping address; the updated order."""

    async def products(self) -> list[Product]:
        """The whole catalog."""

    async def product(self, sku: str) -> Product | None:
        """One product, or None."""

    async def stock(self, sku: str) -> int | None:
        """Units in stock now, or None for an unknown product."""

    async def customer(self, email: str) -> Customer | None:
        """The customer with this e-mail address, or None."""

    async def interactions(self) -> list[dict]:
        """Purchase/review history for the recommender: [{"user", "sku", "time" (unix s)}]."""

    async def close(self) -> None:
        """Release connections."""


def normalise_order_id(text: str, pattern: str = DEFAULT_ORDER_ID, prefix: str = "SK-") -> str | None:
    """The canonical form of an order id (`prefix` + digits), or None if `text` is not one."""
    m = re.fullmatch(r"\s*" + pattern + r"\s*", text or "", re.IGNORECASE)
    return f"{prefix}{m.group(1)}" if m else None


def normalise_postcode(text: str) -> str:
    """Postcodes compared without case, spaces or dashes ("sw1a 1aa" == "SW1A1AA", "94107-1234" keeps all)."""
    return re.sub(r"[\s-]", "", text or "").upper()


def normalise_email(text: str) -> str:
    return (text or "").strip().lower()


DEMO_STORE_DIR = Path(__file__).resolve().parent.parent / "demo"  # the demo store's files


def open_shop(directory: str | None = None, journal: str | None = None, backend_url: str | None = None,
              api_token: str | None = None, timeout_s: float = 5.0, attempts: int = 3, policy=None) -> Shop:
    """The store's data: the HTTP backend at `backend_url` when one is given,
    else the files in `directory` (default: the demo store) with changes kept
    in `journal`, refusing changes `policy` (a knowledge.shop.policy.Policy)
    does not allow. Raises ShopDataError for unreadable files."""
    if backend_url:
        from knowledge.shop.http import HttpShop

        return HttpShop(backend_url, api_token=api_token, timeout_s=timeout_s, attempts=attempts)
    from knowledge.shop.files import FileShop

    return FileShop(directory or DEMO_STORE_DIR, journal or "data/store/changes.jsonl", policy)
