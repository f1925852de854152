"""Cancellation: within the store's policy (before the order is packed, and
within `cancel_window_hours` when set), after proof of ownership and a yes."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store_data
from actions.order_forms import OrderFormValidation, cleared, items_text, verified_order
from actions.replies import money, say, status_words, yes_no
from knowledge.shop import Order, ShopError, ShopRefused
from knowledge.shop.policy import can_cancel

FORM = "cancel_order_form"


def refuse(reason: str, order: Order, dispatcher, tracker, domain) -> None:
    """Say why `order` cannot be cancelled (a policy or backend reason code)."""
    policy = store_data.policy()
    key = {"already_cancelled": "cancel_refused_cancelled", "window_passed": "cancel_refused_window",
           "already_packed": "cancel_refused_packed"}.get(reason, "refused_other")
    say(dispatcher, tracker, domain, key, order_id=order.order_id, status=status_words(tracker, order.status),
        hours=policy.cancel_window_hours, return_days=policy.return_window_days)


class ValidateCancelOrderForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_cancel_order_form"

    async def after_verified(self, order, dispatcher, tracker, domain) -> dict[str, Any]:
        decision = can_cancel(order, store_data.policy(), store_data.now())
        if not decision.allowed:
            refuse(decision.reason, order, dispatcher, tracker, domain)
            self.end_form()
        return {}


class ActionAskConfirmCancel(Action):
    def name(self) -> str:
        return "action_ask_confirm_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        order = await verified_order(tracker)
        if order is not None:
            say(dispatcher, tracker, domain, "confirm_cancel", buttons=yes_no(tracker), order_id=order.order_id,
                items=items_text(order), total=money(order.total, order.currency))
        return []


class ActionCancelOrder(Action):
    def name(self) -> str:
        return "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        reset = cleared(domain, FORM)
        try:
            order = await verified_order(tracker)
            if order is None:
                say(dispatcher, tracker, domain, "order_check_failed")
                return reset
            if not tracker.get_slot("confirm_cancel"):
                say(dispatcher, tracker, domain, "cancel_kept", order_id=order.order_id)
                return reset
            # checked again: it may have been packed meanwhile
            decision = can_cancel(order, store_data.policy(), store_data.now())
            if not decision.allowed:
                refuse(decision.reason, order, dispatcher, tracker, domain)
                return reset
            cancelled = await store_data.shop().cancel_order(order.order_id, reason="asked in chat")
        except ShopRefused as exc:
            refuse(exc.reason, order, dispatcher, tracker, domain)
            return reset
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            return reset
        say(dispatcher, tracker, domain, "cancel_done", order_id=cancelled.order_id,
            total=money(cancelled.total, cancelled.currency))
        return reset
