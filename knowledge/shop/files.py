"""A store kept in files: the demo store, or a small shop's own exports.

The folder holds `orders.json` (a list of orders, `knowledge.shop.Order`
fields), `products.json` (the catalog, `knowledge.catalog`), and optionally
`customers.json` ([{"customer_id", "email", "name"}]) and
`interactions.jsonl` (one {"user", "sku", "time"} per line, purchase or
review history for the recommender). The folder is never written: changes
the actions make (cancellations, returns, address changes) are appended to a
journal file under a file lock, so every process (the bot, an action server)
sees them and a restart keeps them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from pathlib import Path

from filelock import FileLock

from knowledge.catalog import Product, load_catalog
from knowledge.documents import KnowledgeError
from knowledge.shop import Address, Customer, Order, ReturnRecord, ShopDataError, ShopRefused, normalise_email
from knowledge.shop.policy import Policy


class FileShop:
    """`Shop` over a folder of JSON files plus a change journal.

    Raises ShopDataError at construction when a file is missing or malformed
    (the message names it)."""

    def __init__(self, directory: str | Path, journal: str | Path, policy: Policy | None = None):
        self.directory = Path(directory)
        self.journal = Path(journal)
        self.policy = policy or Policy()  # the statuses in which cancelling and address changes are allowed
        try:
            self._catalog = load_catalog(self.directory / "products.json")
        except KnowledgeError as exc:
            raise ShopDataError(str(exc)) from None
        self._products = {p.sku: p for p in self._catalog}
        self._orders = {o.order_id: o for o in (Order.from_dict(row, f"{self.directory}/orders.json order {n}")
                                                for n, row in enumerate(self._read_list("orders.json"), 1))}
        self._customers = []
        for n, row in enumerate(self._read_list("customers.json", required=False), 1):
            try:
                self._customers.append(Customer(str(row["customer_id"]), str(row["email"]), str(row.get("name", ""))))
            except (KeyError, TypeError, AttributeError) as exc:
                raise ShopDataError(f"{self.directory / 'customers.json'}: customer {n}: expected "
                                    f"{{\"customer_id\", \"email\", \"name\"}}: {exc!r}") from None
        self._interactions = self._read_interactions()
        self._lock = FileLock(str(self.journal) + ".lock")

    def _read_list(self, name: str, required: bool = True) -> list[dict]:
        path = self.directory / name
        if not path.exists() and not required:
            return []
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ShopDataError(f"{path}: file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ShopDataError(f"{path}: not a valid UTF-8 JSON file: {exc}") from None
        if not isinstance(rows, list):
            raise ShopDataError(f"{path}: expected a list")
        return rows

    def _read_interactions(self) -> list[dict]:
        path = self.directory / "interactions.jsonl"
        if not path.exists():
            return []
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                row = json.loads(line)
                rows.append({"user": str(row["user"]), "sku": str(row["sku"]), "time": float(row.get("time", 0))})
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ShopDataError(f"{path}:{number}: expected {{\"user\", \"sku\", \"time\"}}: {exc}") from None
        return rows

    # -- the journal -------------------------------------------------------

    def _changes(self) -> tuple[dict[str, Order], list[ReturnRecord]]:
        orders, returns = {}, []
        if not self.journal.exists():
            return orders, returns
        lines = self.journal.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if entry["kind"] == "order":
                    order = Order.from_dict(entry["order"], f"{self.journal}:{number}")
                    orders[order.order_id] = order
                elif entry["kind"] == "return":
                    returns.append(ReturnRecord.from_dict(entry["return"]))
            except json.JSONDecodeError:
                if number == len(lines):
                    continue  # a write torn by a crash: the change never happened
                raise ShopDataError(f"{self.journal}:{number}: not a JSON line") from None
            except (KeyError, TypeError) as exc:
                raise ShopDataError(f"{self.journal}:{number}: malformed change: {exc!r}") from None
        return orders, returns

    def _current(self, order_id: str, changed: dict[str, Order] | None = None) -> Order | None:
        """The order as the journal (`changed`, read now if not given) leaves it."""
        if changed is None:
            changed, _ = self._changes()
        return changed.get(order_id) or self._orders.get(order_id)

    def _append(self, *entries: dict) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as f:
            for entry in entries:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def _update(self, order_id: str, change) -> Order:
        """Apply `change(order) -> Order` under the lock (read, check, write as one step)."""
        with self._lock:
            order = self._current(order_id)
            if order is None:
                raise ShopRefused("unknown_order", f"no order {order_id}")
            updated = change(order)
            self._append({"kind": "order", "order": updated.to_dict()})
            return updated

    # -- Shop --------------------------------------------------------------

    async def order(self, order_id: str) -> Order | None:
        return await asyncio.to_thread(self._current, order_id)

    async def cancel_order(self, order_id: str, reason: str = "") -> Order:
        def cancel(order: Order) -> Order:
            if order.status not in self.policy.cancel_statuses:
                raise ShopRefused("already_packed" if order.status != "cancelled" else "already_cancelled")
            return replace(order, status="cancelled", note="Cancelled at the customer's request.")
        return await asyncio.to_thread(self._update, order_id, cancel)

    async def change_address(self, order_id: str, address: Address) -> Order:
        def change(order: Order) -> Order:
            if order.status not in self.policy.address_change_statuses:
                raise ShopRefused("already_packed")
            return replace(order, shipping_address=address)
        return await asyncio.to_thread(self._update, order_id, change)

    async def create_return(self, order_id: str, skus: list[str], kind: str, reason: str = "",
                            exchange_for: str | None = None) -> ReturnRecord:
        def create() -> ReturnRecord:
            with self._lock:
                changed, returns = self._changes()
                order = self._current(order_id, changed)
                if order is None:
                    raise ShopRefused("unknown_order", f"no order {order_id}")
                taken = {r.return_id for r in returns}
                number = next(n for n in itertools.count(1) if f"R-{order_id}-{n}" not in taken)
                record = ReturnRecord(return_id=f"R-{order_id}-{number}", order_id=order_id, kind=kind,
                                      skus=tuple(skus), exchange_for=exchange_for)
                entry = {"return_id": record.return_id, "kind": kind, "skus": list(skus), "reason": reason,
                         "exchange_for": exchange_for}
                updated = replace(order, returns=order.returns + (entry,))
                self._append({"kind": "return", "return": {**record.__dict__, "skus": list(skus)}},
                             {"kind": "order", "order": updated.to_dict()})
                return record
        return await asyncio.to_thread(create)

    async def products(self) -> list[Product]:
        return list(self._catalog)

    async def product(self, sku: str) -> Product | None:
        return self._products.get(sku)

    async def stock(self, sku: str) -> int | None:
        product = self._products.get(sku)
        return None if product is None else product.in_stock

    async def customer(self, email: str) -> Customer | None:
        wanted = normalise_email(email)
        return next((c for c in self._customers if normalise_email(c.email) == wanted), None)

    async def interactions(self) -> list[dict]:
        return list(self._interactions)

    async def close(self) -> None:
        pass
