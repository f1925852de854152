"""HttpShop against a stand-in store backend: a real aiohttp app on a local
port that speaks the shape in knowledge/shop/http.py, with the demo store's
records, and answers the test scripts before its own (500s, slow answers,
broken JSON)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import asdict

import pytest
from aiohttp import web

from knowledge.shop import (
    DEMO_STORE_DIR,
    Address,
    ShopDataError,
    ShopRefused,
    ShopUnavailable,
    open_shop,
)
from knowledge.shop.http import HttpShop

TOKEN = "s3cret-store-token"
PREFIX = "/api/v1"
NOT_PACKED = ("processing", "on_hold")

pytestmark = pytest.mark.integration


class Backend:
    """The stand-in: the demo store's orders, products and customers in
    memory, every request recorded, and `script[(method, path)]` a list of
    answers given (one per request) before the real handler's."""

    def __init__(self):
        self.orders = {o["order_id"]: o for o in json.loads((DEMO_STORE_DIR / "orders.json").read_text())}
        self.products = {p["sku"]: p for p in json.loads((DEMO_STORE_DIR / "products.json").read_text())}
        self.customers = json.loads((DEMO_STORE_DIR / "customers.json").read_text())
        self.interactions = [{"user": "C-001", "sku": "KT-101", "time": 1760000000}]
        self.requests: list[dict] = []
        self.script: dict[tuple[str, str], list] = {}
        self.seen_keys: dict[str, tuple[int, dict]] = {}  # Idempotency-Key -> the first answer's status, body
        self.url = ""

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if (r["method"], r["path"]) == (method, PREFIX + path))

    def app(self) -> web.Application:
        api = web.Application(middlewares=[self.record_and_script, self.authorise])
        api.add_routes([
            web.get("/orders/{order_id}", self.get_order),
            web.post("/orders/{order_id}/cancel", self.cancel),
            web.put("/orders/{order_id}/shipping-address", self.change_address),
            web.post("/orders/{order_id}/returns", self.create_return),
            web.get("/products", self.list_products),
            web.get("/products/{sku}", self.get_product),
            web.get("/inventory/{sku}", self.inventory),
            web.get("/customers", self.find_customer),
            web.get("/interactions", self.list_interactions),
        ])
        root = web.Application()
        root.add_subapp(PREFIX, api)
        return root

    @web.middleware
    async def record_and_script(self, request, handler):
        body = await request.json() if request.can_read_body else None
        self.requests.append({"method": request.method, "path": request.path, "raw_path": request.raw_path,
                              "headers": dict(request.headers), "body": body, "query": dict(request.query)})
        scripted = self.script.get((request.method, request.path))
        if scripted:
            return await scripted.pop(0)()
        key = request.headers.get("Idempotency-Key")
        if key in self.seen_keys:  # a retried change: the first answer again, applied once
            status, answer = self.seen_keys[key]
            return web.json_response(answer, status=status)
        response = await handler(request)
        if key:
            self.seen_keys[key] = (response.status, json.loads(response.body))
        return response

    @web.middleware
    async def authorise(self, request, handler):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorised"}, status=401)
        return await handler(request)

    def _order(self, request) -> dict:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            raise web.HTTPNotFound()
        return order

    async def get_order(self, request):
        return web.json_response(self._order(request))

    async def cancel(self, request):
        order = self._order(request)
        if order["status"] == "cancelled":
            return web.json_response({"error": "already_cancelled", "message": "Already cancelled."}, status=409)
        if order["status"] not in NOT_PACKED:
            return web.json_response({"error": "already_packed", "message": "It has been packed."}, status=409)
        order.update(status="cancelled", note=(await request.json())["reason"])
        return web.json_response(order)

    async def change_address(self, request):
        order = self._order(request)
        if order["status"] not in NOT_PACKED:
            return web.json_response({"error": "already_packed", "message": "Too late."}, status=422)
        order["shipping_address"] = await request.json()
        return web.json_response(order)

    async def create_return(self, request):
        order, body = self._order(request), await request.json()
        if any(self.products[sku].get("final_sale") for sku in body["skus"]):
            return web.json_response({"error": "final_sale", "message": "Final sale."}, status=409)
        record = {"return_id": f"R-{len(order.get('returns') or []) + 1}", "order_id": order["order_id"],
                  "kind": body["kind"], "skus": body["skus"], "status": "requested",
                  "label_url": "https://labels.example/1.pdf", "exchange_for": body["exchange_for"]}
        order.setdefault("returns", []).append(record)
        return web.json_response(record, status=201)

    async def list_products(self, request):
        return web.json_response(list(self.products.values()))

    async def get_product(self, request):
        product = self.products.get(request.match_info["sku"])
        return web.json_response(product) if product else web.json_response({"error": "not_found"}, status=404)

    async def inventory(self, request):
        product = self.products.get(request.match_info["sku"])
        if product is None:
            raise web.HTTPNotFound()
        return web.json_response({"sku": product["sku"], "in_stock": product["in_stock"]})

    async def find_customer(self, request):
        wanted = request.query.get("email", "").lower()
        found = next((c for c in self.customers if c["email"].lower() == wanted), None)
        return web.json_response(found) if found else web.json_response({"error": "not_found"}, status=404)

    async def list_interactions(self, request):
        return web.json_response(self.interactions)


def answer(status: int, body: str = "{}", headers: dict | None = None, delay_s: float = 0.0):
    """A scripted answer."""
    async def respond():
        await asyncio.sleep(delay_s)
        return web.Response(status=status, text=body, content_type="application/json", headers=headers)
    return respond


@pytest.fixture
async def backend(aiohttp_server) -> Backend:
    backend = Backend()
    server = await aiohttp_server(backend.app())
    backend.url = str(server.make_url(PREFIX))
    return backend


def make_shop(url: str, **settings) -> HttpShop:
    settings = {"api_token": TOKEN, "timeout_s": 0.5, "attempts": 3, "backoff_s": 0.01, "max_wait_s": 0.5,
                **settings}
    return HttpShop(url, **settings)


@pytest.fixture
async def shop(backend):
    shop = make_shop(backend.url)
    yield shop
    await shop.close()


def assert_no_token(exc: BaseException) -> None:
    assert TOKEN not in str(exc) and TOKEN not in repr(exc)


# -- reads -------------------------------------------------------------------


async def test_reads_an_order_with_the_token_and_a_json_accept_header(shop, backend):
    order = await shop.order("SK-1011")
    assert order.order_id == "SK-1011" and order.status == "delivered" and order.delivered_on == "2026-11-21"
    assert [line.sku for line in order.items] == ["CR-601", "CR-602", "CR-604"]
    assert order.shipping_address.postcode == "97205" and order.email == "alex.morgan@example.com"
    request = backend.requests[-1]
    assert request["path"] == "/api/v1/orders/SK-1011"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Accept"] == "application/json"
    assert "Idempotency-Key" not in request["headers"]  # reads need none


async def test_an_unknown_order_is_none_and_ids_are_quoted(shop, backend):
    assert await shop.order("SK-9999") is None
    assert await shop.order("SK 1/2?x") is None
    assert backend.requests[-1]["raw_path"] == "/api/v1/orders/SK%201%2F2%3Fx"


async def test_the_catalog_is_read_once_within_its_ttl(shop, backend):
    products = await shop.products()
    assert len(products) == len(backend.products)
    final = next(p for p in products if p.sku == "CR-604")
    gift = next(p for p in products if p.sku == "GF-701")
    assert final.final_sale and not gift.returnable and gift.category == "gifts"
    assert (await shop.product("KT-101")).name == backend.products["KT-101"]["name"]
    assert await shop.product("NOPE-1") is None  # from the cache: the catalog has no such product
    await shop.products()
    assert len(backend.requests) == 1


async def test_without_a_fresh_catalog_one_product_is_asked_for(backend):
    shop = make_shop(backend.url, catalog_ttl_s=0)
    try:
        assert (await shop.product("KT-101")).sku == "KT-101"
        assert await shop.product("NOPE-1") is None
        await shop.products()
        await shop.products()
        assert backend.count("GET", "/products") == 2
        assert backend.count("GET", "/products/KT-101") == 1 and backend.count("GET", "/products/NOPE-1") == 1
    finally:
        await shop.close()


async def test_stock_customers_and_interactions(shop, backend):
    assert await shop.stock("KT-101") == backend.products["KT-101"]["in_stock"]
    assert await shop.stock("NOPE-1") is None
    customer = await shop.customer("  Alex.Morgan@Example.com ")
    assert (customer.customer_id, customer.name) == ("C-001", "Alex Morgan")
    assert backend.requests[-1]["query"] == {"email": "alex.morgan@example.com"}
    assert await shop.customer("nobody@example.com") is None
    assert await shop.interactions() == [{"user": "C-001", "sku": "KT-101", "time": 1760000000.0}]
    backend.interactions = []
    assert await shop.interactions() == []


async def test_open_shop_picks_the_backend_when_a_url_is_given(backend):
    shop = open_shop(backend_url=backend.url, api_token=TOKEN, timeout_s=1, attempts=1)
    try:
        assert isinstance(shop, HttpShop) and (await shop.order("SK-1001")).order_id == "SK-1001"
    finally:
        await shop.close()


# -- changes -----------------------------------------------------------------


async def test_cancel_and_the_refusals_the_backend_gives(shop, backend):
    order = await shop.cancel_order("SK-1003", reason="Ordered twice")
    assert order.status == "cancelled" and backend.requests[-1]["body"] == {"reason": "Ordered twice"}
    with pytest.raises(ShopRefused) as refused:
        await shop.cancel_order("SK-1003")
    assert refused.value.reason == "already_cancelled" and str(refused.value) == "Already cancelled."
    with pytest.raises(ShopRefused) as refused:
        await shop.cancel_order("SK-1004")  # packed
    assert refused.value.reason == "already_packed"
    with pytest.raises(ShopRefused) as refused:
        await shop.cancel_order("SK-9999")
    assert refused.value.reason == "unknown_order"


async def test_a_refusal_without_a_code_is_still_a_refusal(shop, backend):
    backend.script[("POST", "/api/v1/orders/SK-1003/cancel")] = [answer(409, "not json")]
    with pytest.raises(ShopRefused) as refused:
        await shop.cancel_order("SK-1003")
    assert refused.value.reason == "refused"


async def test_change_the_shipping_address(shop, backend):
    address = Address(name="Jordan Diaz", line1="5 Oak Road", city="Austin", region="TX", postcode="78702",
                      country="US")
    order = await shop.change_address("SK-1019", address)
    assert order.shipping_address == address
    request = backend.requests[-1]
    assert (request["method"], request["path"]) == ("PUT", "/api/v1/orders/SK-1019/shipping-address")
    assert request["body"] == asdict(address)
    with pytest.raises(ShopRefused) as refused:
        await shop.change_address("SK-1002", address)  # shipped: 422
    assert refused.value.reason == "already_packed"


async def test_returns_and_exchanges(shop, backend):
    record = await shop.create_return("SK-1018", ["FN-301"], "exchange", reason="Too big", exchange_for="size M")
    assert (record.return_id, record.order_id, record.kind, record.skus) == ("R-1", "SK-1018", "exchange",
                                                                            ("FN-301",))
    assert record.exchange_for == "size M" and record.label_url == "https://labels.example/1.pdf"
    assert backend.requests[-1]["body"] == {"skus": ["FN-301"], "kind": "exchange", "reason": "Too big",
                                            "exchange_for": "size M"}
    assert len((await shop.order("SK-1018")).returns) == 1
    with pytest.raises(ShopRefused) as refused:
        await shop.create_return("SK-1011", ["CR-604"], "return")
    assert refused.value.reason == "final_sale"
    with pytest.raises(ShopRefused, match="no order SK-9999"):
        await shop.create_return("SK-9999", ["KT-101"], "return")
    with pytest.raises(ValueError):
        await shop.create_return("SK-1018", ["FN-301"], "refund")


# -- failures ----------------------------------------------------------------


async def test_a_failing_backend_is_tried_again_then_unavailable(shop, backend, caplog):
    backend.script[("GET", "/api/v1/orders/SK-1001")] = [answer(500)] * 3
    with pytest.raises(ShopUnavailable) as unavailable:
        await shop.order("SK-1001")
    assert backend.count("GET", "/orders/SK-1001") == 3
    message = str(unavailable.value)
    assert "GET /api/v1/orders/SK-1001" in message and "HTTP 500" in message and "3 tries" in message
    assert_no_token(unavailable.value)
    logged = [r.getMessage() for r in caplog.records if r.name == "knowledge.shop.http"]
    assert len(logged) == 3 and logged[-1] == message  # two retries, then the failure, for the store owner
    assert all(TOKEN not in m for m in logged)


async def test_one_failure_then_an_answer_succeeds(shop, backend):
    backend.script[("GET", "/api/v1/products")] = [answer(503)]
    assert len(await shop.products()) == len(backend.products)
    assert backend.count("GET", "/products") == 2


async def test_a_backend_too_slow_to_answer_is_unavailable_quickly(backend):
    backend.script[("GET", "/api/v1/orders/SK-1001")] = [answer(200, delay_s=1.0)] * 2
    shop = make_shop(backend.url, timeout_s=0.1, attempts=2)
    started = time.monotonic()
    try:
        with pytest.raises(ShopUnavailable, match="no answer within 0.1 s") as unavailable:
            await shop.order("SK-1001")
    finally:
        await shop.close()
    assert time.monotonic() - started < 0.8
    assert backend.count("GET", "/orders/SK-1001") == 2
    assert_no_token(unavailable.value)


async def test_a_backend_that_cannot_be_reached_is_unavailable():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shop = make_shop(f"http://127.0.0.1:{port}/api", attempts=2)
    try:
        with pytest.raises(ShopUnavailable, match=r"GET /api/interactions: .*gave up after 2 tries") as unavailable:
            await shop.interactions()
    finally:
        await shop.close()
    assert_no_token(unavailable.value)


async def test_a_refused_token_is_said_plainly_and_not_retried(backend):
    shop = make_shop(backend.url, api_token="wrong-token")
    try:
        with pytest.raises(ShopUnavailable, match="refused the API token") as unavailable:
            await shop.order("SK-1001")
    finally:
        await shop.close()
    assert "wrong-token" not in str(unavailable.value)
    assert backend.count("GET", "/orders/SK-1001") == 1
    shop = make_shop(backend.url, api_token=None)
    try:
        with pytest.raises(ShopUnavailable, match="refused the API token"):
            await shop.products()
    finally:
        await shop.close()
    assert "Authorization" not in backend.requests[-1]["headers"]


async def test_too_many_requests_waits_as_asked_unless_that_is_too_long(shop, backend):
    backend.script[("GET", "/api/v1/inventory/KT-101")] = [answer(429, headers={"Retry-After": "0.05"})]
    assert await shop.stock("KT-101") == backend.products["KT-101"]["in_stock"]
    assert backend.count("GET", "/inventory/KT-101") == 2
    backend.script[("GET", "/api/v1/inventory/KT-102")] = [answer(429, headers={"Retry-After": "120"})]
    with pytest.raises(ShopUnavailable, match="asked to wait 120 s"):
        await shop.stock("KT-102")
    assert backend.count("GET", "/inventory/KT-102") == 1


async def test_malformed_answers_are_data_errors(shop, backend):
    backend.script[("GET", "/api/v1/orders/SK-1001")] = [answer(200, '{"order_id": "SK-1001", "stat')]
    with pytest.raises(ShopDataError, match="GET /api/v1/orders/SK-1001: the answer is not JSON"):
        await shop.order("SK-1001")
    backend.script[("GET", "/api/v1/orders/SK-1001")] = [answer(200, '{"order_id": "SK-1001"}')]
    with pytest.raises(ShopDataError, match="malformed order record"):
        await shop.order("SK-1001")
    backend.script[("GET", "/api/v1/products")] = [answer(200, '[{"sku": "X-1", "name": "No price"}]')]
    with pytest.raises(ShopDataError, match="product 1"):
        await shop.products()
    backend.script[("GET", "/api/v1/interactions")] = [answer(200, '{"user": "C-001"}')]
    with pytest.raises(ShopDataError, match="expected a list"):
        await shop.interactions()
    backend.script[("GET", "/api/v1/inventory/KT-101")] = [answer(200, '{"sku": "KT-101", "in_stock": "many"}')]
    with pytest.raises(ShopDataError, match="in_stock"):
        await shop.stock("KT-101")
    backend.script[("POST", "/api/v1/orders/SK-1018/returns")] = [answer(201, '{"kind": "return"}')]
    with pytest.raises(ShopDataError, match="POST /api/v1/orders/SK-1018/returns"):
        await shop.create_return("SK-1018", ["FN-301"], "return")


async def test_an_answer_outside_the_shape_is_unavailable_not_retried(shop, backend):
    backend.script[("GET", "/api/v1/orders/SK-1001")] = [answer(400, '{"error": "bad_request"}')]
    with pytest.raises(ShopUnavailable, match="unexpected HTTP 400"):
        await shop.order("SK-1001")
    assert backend.count("GET", "/orders/SK-1001") == 1


async def test_a_retried_change_keeps_its_idempotency_key(backend):
    path = "/api/v1/orders/SK-1018/returns"
    backend.script[("POST", path)] = [answer(502), answer(201, delay_s=0.5)]  # a failure, then a lost answer
    shop = make_shop(backend.url, timeout_s=0.2)
    try:
        record = await shop.create_return("SK-1018", ["HM-205"], "return")
        await shop.create_return("SK-1018", ["FN-301"], "return")
    finally:
        await shop.close()
    tries = [r["headers"]["Idempotency-Key"] for r in backend.requests if r["path"] == path]
    assert len(tries) == 4 and len(set(tries[:3])) == 1  # one key for the three tries of the first change
    assert tries[3] != tries[0]  # a new change, a new key
    assert record.return_id == "R-1" and [r["skus"] for r in backend.orders["SK-1018"]["returns"]] == [
        ["HM-205"], ["FN-301"]]


async def test_settings_are_checked():
    with pytest.raises(ValueError, match="attempts"):
        HttpShop("https://shop.example/api", attempts=0)
    with pytest.raises(ValueError, match="http"):
        HttpShop("shop.example/api")
    with pytest.raises(ValueError, match="timeout_s"):
        HttpShop("https://shop.example", timeout_s=0)


async def test_close_then_use_opens_a_new_session(shop, backend):
    assert (await shop.order("SK-1001")) is not None
    await shop.close()
    assert (await shop.order("SK-1001")) is not None
