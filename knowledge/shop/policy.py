"""The store's order policies as decisions: may this order be cancelled,
returned, exchanged, or have its address changed, and if not, why.

The figures come from the configuration (`store.policy` in shopkeep.yml) and
must say what the store's own policy pages say; the demo's defaults follow
the demo FAQ (cancel or change the address until the order is packed; return
within 30 days of delivery; Final Sale items and gift cards cannot be
returned). Each decision is a `Decision` with a reason code the actions turn
into words in the shopper's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from knowledge.catalog import Product
from knowledge.shop import Order, OrderLine

# Orders in these states have not been packed yet.
NOT_PACKED = ("processing", "on_hold")


@dataclass(frozen=True)
class Policy:
    cancel_statuses: tuple[str, ...] = NOT_PACKED  # states in which an order can still be cancelled
    cancel_window_hours: float | None = None  # also at most this long after ordering; None: no time limit
    address_change_statuses: tuple[str, ...] = NOT_PACKED
    return_window_days: int = 30  # counted from the delivery date
    exchange_window_days: int = 30
    non_returnable_categories: tuple[str, ...] = ("gifts",)  # whole categories (gift cards)
    verification_max_failures: int = 3  # wrong e-mails/postcodes per conversation before a pause
    verification_lockout_s: int = 900  # the pause
    # wrong answers for one order number from all conversations together (shoppers can start new
    # conversations at will) before that order cannot be looked up for verification_lockout_s
    verification_max_failures_per_order: int = 10


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # a code: "ok", "already_packed", "window_passed", "final_sale", "not_delivered", ...
    details: dict = field(default_factory=dict)  # figures for the message: days, deadline, item names


def can_cancel(order: Order, policy: Policy, now: datetime | None = None) -> Decision:
    """Cancellation: allowed while the order is in `cancel_statuses` and,
    when a window is set, within `cancel_window_hours` of ordering."""
    if order.status == "cancelled":
        return Decision(False, "already_cancelled")
    if order.status not in policy.cancel_statuses:
        return Decision(False, "already_packed", {"status": order.status})
    if policy.cancel_window_hours is not None:
        placed = order.placed_time()
        now = now or datetime.now(timezone.utc)
        if placed is None or (now - placed).total_seconds() > policy.cancel_window_hours * 3600:
            return Decision(False, "window_passed", {"hours": policy.cancel_window_hours})
    return Decision(True, "ok")


def can_change_address(order: Order, policy: Policy) -> Decision:
    if order.status not in policy.address_change_statuses:
        return Decision(False, "already_packed", {"status": order.status})
    return Decision(True, "ok")


def can_return(order: Order, line: OrderLine, product: Product | None, policy: Policy, kind: str = "return",
               today: date | None = None) -> Decision:
    """Return or exchange of one order line: the order must be delivered,
    within the window from its delivery date, and the item returnable (not
    Final Sale, not in a non-returnable category, not already returned)."""
    if product is not None and product.final_sale:
        return Decision(False, "final_sale", {"item": line.name})
    if product is not None and (product.category in policy.non_returnable_categories or not product.returnable):
        return Decision(False, "not_returnable", {"item": line.name})
    if any(line.sku in (r.get("skus") or ()) for r in order.returns):
        return Decision(False, "already_requested", {"item": line.name})
    if order.status in ("return_requested", "returned", "refunded") and not order.returns:
        return Decision(False, "already_requested", {"item": line.name})
    if order.status in ("cancelled",):
        return Decision(False, "cancelled")
    delivered = order.delivered_date()
    if order.status != "delivered" or delivered is None:
        return Decision(False, "not_delivered", {"status": order.status})
    window = policy.exchange_window_days if kind == "exchange" else policy.return_window_days
    today = today or date.today()
    days = (today - delivered).days
    if days > window:
        return Decision(False, "window_passed", {"days": window, "delivered_on": order.delivered_on})
    return Decision(True, "ok", {"days_left": window - days, "window": window})

