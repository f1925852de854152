"""A store's own backend over HTTP: the REST shape a store's developer
implements so that shopkeep can read orders and make the changes the actions
offer. `base_url` may carry a path prefix (`https://shop.example/api/v1`);
ids in paths are URL-quoted.

Every request carries `Accept: application/json` and, when a token is set
($SHOPKEEP_STORE_API_TOKEN), `Authorization: Bearer <token>`. Bodies are
JSON (`Content-Type: application/json`).

    GET  {base}/orders/{order_id}
         200 an order (below)                         404 no such order
    POST {base}/orders/{order_id}/cancel              body {"reason": "..."}
         200 the updated order                        404 no such order
         409 or 422 {"error": "<code>", "message": "..."}: refused
    PUT  {base}/orders/{order_id}/shipping-address    body an address (below)
         200 the updated order                        404, 409, 422 as for cancel
    POST {base}/orders/{order_id}/returns
         body {"skus": ["AP-501"], "kind": "return" | "exchange", "reason": "...",
               "exchange_for": "size M" | null}
         201 (or 200) a return (below)                404, 409, 422 as for cancel
    GET  {base}/products                  200 [product, ...] (the rows of knowledge/demo/products.json)
    GET  {base}/products/{sku}            200 product                       404 no such product
    GET  {base}/inventory/{sku}           200 {"sku": "KT-101", "in_stock": 42}   404 no such product
    GET  {base}/customers?email=<e-mail>  200 {"customer_id": "C-001", "email": "...", "name": "..."}
                                          404 no such customer (match the e-mail without regard to case)
    GET  {base}/interactions              200 [{"user": "C-001", "sku": "KT-101", "time": 1760000000}, ...]
                                          purchases and reviews for the recommender, `time` in unix
                                          seconds; may be []

An order: {"order_id": "SK-1001", "status": "delivered", "email": "...",
"items": [{"sku", "name", "quantity", "unit_price"}], "total": 39.0,
"currency": "USD", "placed_on": "2026-10-02", "placed_at":
"2026-10-02T09:12:00Z", "shipping_address": {address}, "carrier",
"tracking_number", "estimated_delivery", "delivered_on": "2026-10-06" | null,
"note", "returns": [{"return_id", "kind", "skus", ...}]}; `order_id`,
`status` and `items` are required. Statuses: processing, on_hold, packed,
shipped, partially_shipped, delayed, delivered, cancelled, return_requested,
returned, refunded. An address: {"name", "line1", "line2", "city", "region",
"postcode", "country"}. A return: {"return_id", "order_id", "kind", "skus",
"status": "requested", "label_url": null, "exchange_for": null}.

Refusal codes the bot explains: already_packed, already_cancelled,
window_passed, final_sale, not_returnable, not_delivered, already_requested
(other codes are passed on as a plain refusal).

Failures: connection errors, timeouts (`timeout_s` per request), 429 and 5xx
are tried again with exponential backoff and jitter, at most `attempts`
tries; a 429's Retry-After is honoured up to `max_wait_s` (longer gives up at
once). Changes (POST, PUT) are retried too: each logical change sends one
`Idempotency-Key` header (a UUID), the same on every try, and the backend must
apply a key once and answer a repeat with the first answer. After the last
try: ShopUnavailable. 401/403: ShopUnavailable, "the store backend refused
the API token". A body that is not JSON or a record that does not parse:
ShopDataError. Messages name the method and path, never the token or a
shopper's e-mail address.

`products()` is cached for `catalog_ttl_s`; `product(sku)` answers from that
cache while it is fresh. `stock(sku)` always asks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import asdict
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from tenacity import RetryCallState

from knowledge.catalog import Product, product_from_row
from knowledge.documents import KnowledgeError
from knowledge.retrying import retry_after, retrying
from knowledge.shop import (
    Address,
    Customer,
    Order,
    ReturnRecord,
    ShopDataError,
    ShopRefused,
    ShopUnavailable,
    normalise_email,
)

log = logging.getLogger(__name__)

REFUSED = (409, 422)  # the backend declined a change; the body says why


class _Retryable(Exception):
    """A failure worth another try (connection, timeout, 429, 5xx)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class HttpShop:
    """`Shop` over a store backend's REST API (the module docstring has the shape).

    One aiohttp ClientSession, opened on the first call inside the running
    loop and closed by `close()`."""

    def __init__(self, base_url: str, api_token: str | None = None, timeout_s: float = 5.0, attempts: int = 3,
                 catalog_ttl_s: float = 300.0, max_wait_s: float = 5.0, backoff_s: float = 0.5):
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1. Currently, attempts is {attempts}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be greater than 0. Currently, timeout_s is {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path  # for messages: the path without host or credentials
        self._token = api_token or None
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.catalog_ttl_s = catalog_ttl_s
        self.max_wait_s = max_wait_s
        self.backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None
        self._catalog: tuple[float, list[Product], dict[str, Product]] | None = None  # (expires, list, by sku)
        self._catalog_lock = asyncio.Lock()

    # -- Shop --------------------------------------------------------------

    async def _record(self, path: str, params: dict | None = None) -> tuple[dict | None, str]:
        """GET one record: (the JSON object, or None for 404; where it came from, for errors)."""
        status, body = await self._call("GET", path, params=params)
        where = self._where("GET", path)
        if status == 404:
            return None, where
        self._expect(status, body, "GET", path)
        return _mapping(body, where), where

    async def order(self, order_id: str) -> Order | None:
        row, where = await self._record(f"/orders/{_q(order_id)}")
        return None if row is None else Order.from_dict(row, where)

    async def cancel_order(self, order_id: str, reason: str = "") -> Order:
        return await self._change_order("POST", f"/orders/{_q(order_id)}/cancel", {"reason": reason}, order_id)

    async def change_address(self, order_id: str, address: Address) -> Order:
        return await self._change_order("PUT", f"/orders/{_q(order_id)}/shipping-address", asdict(address),
                                        order_id)

    async def create_return(self, order_id: str, skus: list[str], kind: str, reason: str = "",
                            exchange_for: str | None = None) -> ReturnRecord:
        if kind not in ("return", "exchange"):
            raise ValueError(f"kind must be 'return' or 'exchange', not {kind!r}")
        path = f"/orders/{_q(order_id)}/returns"
        status, body = await self._call("POST", path, {"skus": list(skus), "kind": kind, "reason": reason,
                                                       "exchange_for": exchange_for})
        self._refusal(status, body, order_id)
        self._expect(status, body, "POST", path, ok=(200, 201))
        try:
            return ReturnRecord.from_dict(_mapping(body, self._where("POST", path)))
        except ShopDataError as exc:
            raise ShopDataError(f"{self._where('POST', path)}: {exc}") from None

    async def products(self) -> list[Product]:
        return list((await self._fresh_catalog())[1])

    async def product(self, sku: str) -> Product | None:
        if self._catalog is not None and self._catalog[0] > time.monotonic():
            return self._catalog[2].get(sku)
        row, where = await self._record(f"/products/{_q(sku)}")
        return None if row is None else self._product(row, where)

    async def stock(self, sku: str) -> int | None:
        row, where = await self._record(f"/inventory/{_q(sku)}")
        if row is None:
            return None
        try:
            return int(row["in_stock"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ShopDataError(f"{where}: expected {{\"sku\", \"in_stock\"}}: {exc!r}") from None

    async def customer(self, email: str) -> Customer | None:
        row, where = await self._record("/customers", params={"email": normalise_email(email)})
        if row is None:
            return None
        try:
            return Customer(str(row["customer_id"]), str(row["email"]), str(row.get("name") or ""))
        except KeyError as exc:
            raise ShopDataError(f"{where}: customer without {exc}") from None

    async def interactions(self) -> list[dict]:
        status, body = await self._call("GET", "/interactions")
        self._expect(status, body, "GET", "/interactions")
        where = self._where("GET", "/interactions")
        if not isinstance(body, list):
            raise ShopDataError(f"{where}: expected a list of {{\"user\", \"sku\", \"time\"}}")
        try:
            return [{"user": str(r["user"]), "sku": str(r["sku"]), "time": float(r.get("time", 0))} for r in body]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ShopDataError(f"{where}: expected {{\"user\", \"sku\", \"time\"}} rows: {exc!r}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- records -----------------------------------------------------------

    async def _change_order(self, method: str, path: str, body: dict, order_id: str) -> Order:
        status, answer = await self._call(method, path, body)
        self._refusal(status, answer, order_id)
        self._expect(status, answer, method, path)
        return Order.from_dict(_mapping(answer, self._where(method, path)), self._where(method, path))

    async def _fresh_catalog(self) -> tuple[float, list[Product], dict[str, Product]]:
        async with self._catalog_lock:  # one request when many turns find it stale at once
            if self._catalog is None or self._catalog[0] <= time.monotonic():
                status, body = await self._call("GET", "/products")
                self._expect(status, body, "GET", "/products")
                where = self._where("GET", "/products")
                if not isinstance(body, list):
                    raise ShopDataError(f"{where}: expected a list of products")
                products = [self._product(row, f"{where}: product {n}") for n, row in enumerate(body, 1)]
                self._catalog = (time.monotonic() + self.catalog_ttl_s, products, {p.sku: p for p in products})
            return self._catalog

    @staticmethod
    def _product(row: Any, where: str) -> Product:
        try:
            return product_from_row(row, where)
        except KnowledgeError as exc:
            raise ShopDataError(str(exc)) from None

    @staticmethod
    def _refusal(status: int, body: Any, order_id: str) -> None:
        """ShopRefused for a change the backend declined (404: the order is unknown)."""
        if status == 404:
            raise ShopRefused("unknown_order", f"no order {order_id}")
        if status in REFUSED:
            body = body if isinstance(body, dict) else {}
            raise ShopRefused(str(body.get("error") or "refused"), str(body.get("message") or ""))

    def _expect(self, status: int, body: Any, method: str, path: str, ok: tuple[int, ...] = (200,)) -> None:
        """Any answer but `ok` here is one the shape does not allow: ShopUnavailable."""
        if status in ok:
            if isinstance(body, _NotJson):
                raise ShopDataError(f"{self._where(method, path)}: the answer is not JSON: {body.error}")
            return
        detail = body.text if isinstance(body, _NotJson) else json.dumps(body, ensure_ascii=False)
        raise ShopUnavailable(self._redact(f"{self._where(method, path)}: unexpected HTTP {status}: {detail[:200]}"))

    # -- HTTP --------------------------------------------------------------

    def _where(self, method: str, path: str) -> str:
        return f"store backend {method} {self._prefix}{path}"

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            self._session = aiohttp.ClientSession(headers=headers,
                                                  timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def _call(self, method: str, path: str, body: dict | None = None,
                    params: dict | None = None) -> tuple[int, Any]:
        """One logical request, retried: the status and the parsed body of
        the first answer that is not retried (a `_NotJson` when it is not JSON)."""
        headers = {} if method == "GET" else {"Idempotency-Key": str(uuid.uuid4())}  # the same on every try
        where = self._where(method, path)

        def before_sleep(state: RetryCallState) -> None:
            log.warning("%s: %s; try %d of %d in %.1f s", where, state.outcome.exception(), state.attempt_number,
                        self.attempts, state.upcoming_sleep)

        try:
            async for attempt in retrying(_Retryable, self.attempts, self.max_wait_s, self.backoff_s, before_sleep):
                with attempt:
                    return await self._once(method, path, body, params, headers)
        except _Retryable as exc:
            if (exc.retry_after_s or 0) > self.max_wait_s:
                message = (f"{where}: {exc}, asked to wait {exc.retry_after_s:.0f} s, more than the "
                           f"{self.max_wait_s:.0f} s allowed")
            else:
                tries = "1 try" if self.attempts == 1 else f"{self.attempts} tries"
                message = self._redact(f"{where}: {exc} (gave up after {tries})")
            log.error("%s", message)
            raise ShopUnavailable(message) from None

    async def _once(self, method: str, path: str, body: dict | None, params: dict | None,
                    headers: dict) -> tuple[int, Any]:
        where = self._where(method, path)
        try:
            async with self._client().request(method, self.base_url + path, json=body, params=params,
                                              headers=headers) as response:
                status, raw, response_headers = response.status, await response.read(), response.headers
        except asyncio.TimeoutError:
            raise _Retryable(f"no answer within {self.timeout_s:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if status in (401, 403):
            message = (f"{where}: the store backend refused the API token (HTTP {status}); check "
                       f"$SHOPKEEP_STORE_API_TOKEN")
            log.error("%s", message)
            raise ShopUnavailable(message)
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", retry_after(response_headers) if status == 429 else None)
        if not raw.strip():
            return status, None
        try:
            return status, json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return status, _NotJson(raw.decode("utf-8", "replace"), str(exc))


class _NotJson:
    """An answer body that did not parse as JSON (an error page, a cut-off answer)."""

    def __init__(self, text: str, error: str):
        self.text = text
        self.error = error


def _q(segment: str) -> str:
    """One path segment, URL-quoted ("SK 1/2" -> "SK%201%2F2")."""
    return quote(str(segment), safe="")


def _mapping(body: Any, where: str) -> dict:
    if not isinstance(body, dict):
        raise ShopDataError(f"{where}: expected a JSON object, got {type(body).__name__}")
    return body


