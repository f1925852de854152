"""Order records: what the store's order system would answer.

The demo store's orders are a JSON file; a real store replaces `OrderBook`
with a client for its shop platform behind the same two methods.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

DEMO_STORE_DIR = Path(__file__).parent / "demo"
ENV_STORE_DIR = "SHOPKEEP_STORE_DIR"

# SK-1234, sk1234, SK 1234 -> SK-1234
_ORDER_ID = re.compile(r"^\s*#?\s*sk[\s-]?(\d{4,8})\s*$", re.IGNORECASE)


def normalise_order_id(text: str) -> str | None:
    """The canonical form of an order id, or None if `text` is not one."""
    m = _ORDER_ID.match(text or "")
    return f"SK-{m.group(1)}" if m else None


class OrderBook:
    def __init__(self, orders: list[dict]):
        self._orders = {o["order_id"]: o for o in orders}

    @classmethod
    def from_file(cls, path: Path) -> "OrderBook":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def get(self, order_id: str) -> dict | None:
        canonical = normalise_order_id(order_id)
        return self._orders.get(canonical) if canonical else None

    def __len__(self) -> int:
        return len(self._orders)


@lru_cache(maxsize=1)
def get_order_book() -> OrderBook:
    """The store's orders, from $SHOPKEEP_STORE_DIR/orders.json (default: the demo store)."""
    directory = Path(os.environ.get(ENV_STORE_DIR) or DEMO_STORE_DIR)
    return OrderBook.from_file(directory / "orders.json")
