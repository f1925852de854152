"""FileShop on the demo store's files, with its change journal in tmp_path,
and the order policies (knowledge/shop/policy.py) on the demo's orders."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from knowledge.shop import DEMO_STORE_DIR, Address, ShopDataError, ShopRefused, open_shop
from knowledge.shop.files import FileShop
from knowledge.shop.policy import Policy, can_cancel, can_change_address, can_return


@pytest.fixture
def journal(tmp_path):
    return tmp_path / "store" / "changes.jsonl"


@pytest.fixture
def shop(journal) -> FileShop:
    return FileShop(DEMO_STORE_DIR, journal)


@pytest.fixture
def folder(tmp_path):
    """A copy of the demo store's files to break."""
    return shutil.copytree(DEMO_STORE_DIR, tmp_path / "demo")


def line(order, sku):
    return next(item for item in order.items if item.sku == sku)


# -- reads -------------------------------------------------------------------


async def test_reads_orders_products_stock_and_customers(shop):
    order = await shop.order("SK-1001")
    assert (order.status, order.email, order.delivered_on) == ("delivered", "alex.morgan@example.com", "2026-10-06")
    assert [(i.sku, i.quantity, i.unit_price) for i in order.items] == [("KT-101", 1, 39.0)]
    assert order.shipping_address.postcode == "97205" and order.carrier == "UPS"
    assert order.placed_time() == datetime(2026, 10, 2, 9, 12, tzinfo=timezone.utc)
    assert await shop.order("SK-9999") is None

    products = await shop.products()
    assert len(products) == 50 and {p.sku for p in products} >= {"KT-101", "CR-604", "GF-701"}
    assert (await shop.product("CR-604")).final_sale
    assert not (await shop.product("GF-701")).returnable
    assert await shop.product("NOPE-1") is None
    assert await shop.stock("KT-106") == 0 and await shop.stock("KT-101") == 42
    assert await shop.stock("NOPE-1") is None

    customer = await shop.customer(" Wei.Zhang@EXAMPLE.com")
    assert (customer.customer_id, customer.name) == ("C-003", "Wei Zhang")
    assert await shop.customer("nobody@example.com") is None
    history = await shop.interactions()  # the demo's interactions.jsonl, when it has one
    assert all(set(row) == {"user", "sku", "time"} and isinstance(row["time"], float) for row in history)
    await shop.close()


async def test_open_shop_defaults_to_the_demo_files(journal):
    shop = open_shop(journal=str(journal))
    assert isinstance(shop, FileShop) and (await shop.order("SK-1003")).status == "processing"


async def test_interactions_are_read_skipping_blank_and_comment_lines(folder, journal):
    (folder / "interactions.jsonl").write_text('# user, sku, time\n{"user": "C-001", "sku": "KT-101", "time": 5}\n'
                                               '\n{"user": "C-002", "sku": "HM-201"}\n')
    shop = FileShop(folder, journal)
    assert await shop.interactions() == [{"user": "C-001", "sku": "KT-101", "time": 5.0},
                                         {"user": "C-002", "sku": "HM-201", "time": 0.0}]


# -- changes -----------------------------------------------------------------


async def test_cancel_once_and_only_before_packing(shop, journal):
    before = (DEMO_STORE_DIR / "orders.json").read_bytes()
    order = await shop.cancel_order("SK-1003", reason="Ordered twice")
    assert order.status == "cancelled" and (await shop.order("SK-1003")).status == "cancelled"
    with pytest.raises(ShopRefused) as refused:
        await shop.cancel_order("SK-1003")
    assert refused.value.reason == "already_cancelled"
    for packed in ("SK-1004", "SK-1002"):  # packed, shipped
        with pytest.raises(ShopRefused) as refused:
            await shop.cancel_order(packed)
        assert refused.value.reason == "already_packed"
    assert (await shop.cancel_order("SK-1019")).status == "cancelled"  # on hold
    assert (DEMO_STORE_DIR / "orders.json").read_bytes() == before  # the folder is never written
    assert journal.exists()


async def test_a_change_is_seen_by_another_process_on_the_same_journal(shop, journal):
    other = FileShop(DEMO_STORE_DIR, journal)  # as an action server in another process would open it
    assert (await other.order("SK-1013")).status == "processing"
    await shop.cancel_order("SK-1013")
    assert (await other.order("SK-1013")).status == "cancelled"
    with pytest.raises(ShopRefused):
        await other.cancel_order("SK-1013")
    assert (await FileShop(DEMO_STORE_DIR, journal).order("SK-1013")).status == "cancelled"  # after a restart
    assert (await FileShop(DEMO_STORE_DIR, journal.with_name("other.jsonl")).order("SK-1013")).status == \
        "processing"


async def test_change_the_address_until_packed(shop, journal):
    address = Address(name="Jordan Diaz", line1="5 Oak Road", city="Austin", region="TX", postcode="78702",
                      country="US")
    order = await shop.change_address("SK-1019", address)
    assert order.shipping_address == address and order.status == "on_hold"
    assert (await FileShop(DEMO_STORE_DIR, journal).order("SK-1019")).shipping_address == address
    with pytest.raises(ShopRefused) as refused:
        await shop.change_address("SK-1009", address)  # shipped
    assert refused.value.reason == "already_packed"


async def test_returns_are_appended_to_the_order(shop, journal):
    first = await shop.create_return("SK-1018", ["FN-301"], "return", reason="Too big")
    second = await shop.create_return("SK-1018", ["HM-205"], "exchange", exchange_for="blue")
    assert (first.return_id, first.kind, first.skus, first.status) == ("R-SK-1018-1", "return", ("FN-301",),
                                                                      "requested")
    assert second.return_id != first.return_id and second.exchange_for == "blue"
    order = await FileShop(DEMO_STORE_DIR, journal).order("SK-1018")
    assert [(r["return_id"], r["kind"], r["skus"]) for r in order.returns] == [
        (first.return_id, "return", ["FN-301"]), (second.return_id, "exchange", ["HM-205"])]
    assert order.returns[0]["reason"] == "Too big"
    assert can_return(order, line(order, "FN-301"), await shop.product("FN-301"), Policy(),
                      today=date(2026, 11, 26)).reason == "already_requested"


async def test_changes_to_an_unknown_order_are_refused(shop):
    for change in (shop.cancel_order("SK-9999"), shop.change_address("SK-9999", Address()),
                   shop.create_return("SK-9999", ["KT-101"], "return")):
        with pytest.raises(ShopRefused) as refused:
            await change
        assert refused.value.reason == "unknown_order"


# -- malformed files ---------------------------------------------------------


@pytest.mark.parametrize("name, content, message", [
    ("orders.json", "[{broken", r"orders.json: not a valid UTF-8 JSON file"),
    ("orders.json", '{"order_id": "SK-1"}', r"orders.json: expected a list"),
    ("orders.json", '[{"order_id": "SK-1", "status": "processing", "items": []}, {"order_id": "SK-2"}]',
     r"orders.json order 2: malformed order record"),
    ("orders.json", '[{"order_id": "SK-1", "status": "x", "items": [{"sku": "A", "name": "B", "quantity": "two"}]}]',
     r"orders.json order 1"),
    ("products.json", "[{broken", r"products.json: not a valid UTF-8 JSON file"),
    ("products.json", '[{"sku": "A-1", "name": "No price"}]', r"products.json: product 1"),
    ("products.json", '[{"sku": "A-1", "name": "A", "price": 1, "final_sale": "yes"}]', r"products.json: product 1"),
    ("customers.json", "{broken", r"customers.json: not a valid UTF-8 JSON file"),
    ("interactions.jsonl", '{"user": "C-001", "sku": "KT-101"}\n{"user": "C-002"}\n', r"interactions.jsonl:2"),
])
def test_a_malformed_file_is_a_data_error_naming_it(folder, journal, name, content, message):
    (folder / name).write_text(content)
    with pytest.raises(ShopDataError, match=message):
        FileShop(folder, journal)


def test_a_missing_orders_file_is_a_data_error(folder, journal):
    (folder / "orders.json").unlink()
    with pytest.raises(ShopDataError, match="orders.json: file not found"):
        FileShop(folder, journal)
    (folder / "customers.json").unlink()  # optional
    (folder / "orders.json").write_text("[]")
    FileShop(folder, journal)


def test_a_customer_without_an_id_is_a_data_error_naming_the_file(folder, journal):
    (folder / "customers.json").write_text('[{"email": "a@example.com"}]')
    with pytest.raises(ShopDataError, match="customers.json"):
        FileShop(folder, journal)


def test_an_address_written_as_text_is_a_data_error(folder, journal):
    rows = json.loads((folder / "orders.json").read_text())
    rows[0]["shipping_address"] = "12 Maple Street, Portland"
    (folder / "orders.json").write_text(json.dumps(rows))
    with pytest.raises(ShopDataError, match="orders.json order 1"):
        FileShop(folder, journal)


async def test_a_torn_last_journal_line_is_ignored_and_a_broken_one_named(shop, journal):
    await shop.cancel_order("SK-1003")
    with open(journal, "a", encoding="utf-8") as f:
        f.write('{"kind": "order", "order": {"order_id": "SK-10')  # a write cut short (disk full, a crash)
    assert (await shop.order("SK-1003")).status == "cancelled"  # the torn change never happened
    with open(journal, "a", encoding="utf-8") as f:
        f.write('\n{"kind": "order"}\n')
    with pytest.raises(ShopDataError, match="changes.jsonl:2"):
        await shop.order("SK-1003")


# -- policy ------------------------------------------------------------------


async def test_cancel_by_status(shop):
    policy = Policy()
    expected = {"SK-1003": (True, "ok"), "SK-1019": (True, "ok"), "SK-1004": (False, "already_packed"),
                "SK-1002": (False, "already_packed"), "SK-1005": (False, "already_cancelled")}
    for order_id, (allowed, reason) in expected.items():
        decision = can_cancel(await shop.order(order_id), policy)
        assert (decision.allowed, decision.reason) == (allowed, reason), order_id
    assert can_cancel(await shop.order("SK-1004"), Policy(cancel_statuses=("processing", "packed"))).allowed
    assert can_change_address(await shop.order("SK-1019"), policy).allowed
    decision = can_change_address(await shop.order("SK-1014"), policy)
    assert (decision.allowed, decision.reason, decision.details) == (False, "already_packed",
                                                                   {"status": "partially_shipped"})


async def test_cancel_within_a_window_from_ordering(shop):
    order = await shop.order("SK-1003")  # placed 2026-11-27T18:05:00Z
    policy = Policy(cancel_window_hours=2)
    placed = datetime(2026, 11, 27, 18, 5, tzinfo=timezone.utc)
    assert can_cancel(order, policy, now=placed + timedelta(hours=1, minutes=59)).allowed
    late = can_cancel(order, policy, now=placed + timedelta(hours=2, minutes=1))
    assert (late.allowed, late.reason, late.details) == (False, "window_passed", {"hours": 2})
    assert can_cancel(order, Policy(), now=placed + timedelta(days=30)).allowed  # no window set

    by_date = replace(order, placed_at=None)  # only the date: counted from midnight UTC
    assert can_cancel(by_date, Policy(cancel_window_hours=24), now=datetime(2026, 11, 27, 23, tzinfo=timezone.utc)
                      ).allowed
    assert not can_cancel(by_date, Policy(cancel_window_hours=24), now=datetime(2026, 11, 28, 1, tzinfo=timezone.utc)
                          ).allowed
    undated = replace(order, placed_at=None, placed_on=None)
    assert can_cancel(undated, policy, now=placed).reason == "window_passed"  # no time known: not within it


async def test_returns_within_the_window_from_delivery(shop):
    order = await shop.order("SK-1018")  # delivered 2026-11-25
    product = await shop.product("FN-301")
    last_day = can_return(order, line(order, "FN-301"), product, Policy(), today=date(2026, 12, 25))
    assert (last_day.allowed, last_day.details) == (True, {"days_left": 0, "window": 30})
    late = can_return(order, line(order, "FN-301"), product, Policy(), today=date(2026, 12, 26))
    assert (late.allowed, late.reason, late.details) == (False, "window_passed",
                                                         {"days": 30, "delivered_on": "2026-11-25"})
    policy = Policy(return_window_days=14, exchange_window_days=45)
    assert not can_return(order, line(order, "FN-301"), product, policy, today=date(2026, 12, 20)).allowed
    assert can_return(order, line(order, "FN-301"), product, policy, kind="exchange", today=date(2026, 12, 20)
                      ).allowed


async def test_items_that_cannot_be_returned(shop):
    today = date(2026, 11, 28)
    sale = await shop.order("SK-1011")  # delivered 2026-11-21, with CR-604 (Final Sale)
    decision = can_return(sale, line(sale, "CR-604"), await shop.product("CR-604"), Policy(), today=today)
    assert (decision.allowed, decision.reason, decision.details) == (False, "final_sale",
                                                                   {"item": line(sale, "CR-604").name})
    assert can_return(sale, line(sale, "CR-601"), await shop.product("CR-601"), Policy(), today=today).allowed

    gift = await shop.order("SK-1017")  # a gift card
    gift_card = await shop.product("GF-701")
    assert can_return(gift, line(gift, "GF-701"), gift_card, Policy(), today=today).reason == "not_returnable"
    # marked "returnable": false in the catalog, so excluded even when its category is not
    assert can_return(gift, line(gift, "GF-701"), gift_card, Policy(non_returnable_categories=()),
                      today=today).reason == "not_returnable"


async def test_returns_of_orders_not_delivered_or_already_returned(shop):
    today = date(2026, 11, 28)
    for order_id, reason in (("SK-1002", "not_delivered"), ("SK-1014", "not_delivered"),
                             ("SK-1005", "cancelled"), ("SK-1007", "already_requested"),
                             ("SK-1008", "already_requested"), ("SK-1016", "already_requested")):
        order = await shop.order(order_id)
        item = order.items[0]
        decision = can_return(order, item, await shop.product(item.sku), Policy(), today=today)
        assert (decision.allowed, decision.reason) == (False, reason), order_id
    delivered_without_date = replace(await shop.order("SK-1018"), delivered_on=None)
    assert can_return(delivered_without_date, delivered_without_date.items[0], None, Policy(),
                      today=today).reason == "not_delivered"
