"""Returns and exchanges: eligibility from the order's state, its delivery
date and the policy (window, Final Sale and non-returnable items); the return
created through the store's backend; the next steps told."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store_data
from actions.order_forms import OrderFormValidation, cleared, not_an_answer, verified_order
from actions.replies import language, say, status_words, yes_no
from knowledge.recommend_request import COLOUR_ZH
from knowledge.shop import Order, OrderLine, ShopError, ShopRefused
from knowledge.shop.policy import Decision, can_return

FORM = "return_form"
NO_EXCHANGE = "-"  # exchange_for of a plain return
KIND_WORD = {"en": {"return": "return", "exchange": "exchange"}, "zh": {"return": "退货", "exchange": "换货"}}
REFUSAL = {"final_sale": "return_refused_final_sale", "not_returnable": "return_refused_not_returnable",
           "window_passed": "return_refused_window", "not_delivered": "return_refused_not_delivered",
           "already_requested": "return_refused_requested", "cancelled": "return_refused_cancelled"}


def kind(tracker: Tracker) -> str:
    return "exchange" if tracker.get_slot("return_kind") == "exchange" else "return"


async def decisions(order: Order, tracker: Tracker) -> list[tuple[OrderLine, Decision]]:
    """Each line of `order` with whether it may be returned (or exchanged)."""
    shop, policy = store_data.shop(), store_data.policy()
    return [(line, can_return(order, line, await shop.product(line.sku), policy, kind(tracker),
                                 store_data.today()))
            for line in order.items]


def refuse(decision: Decision, order: Order, line: OrderLine, dispatcher, tracker, domain) -> None:
    details = {"days": "", "delivered_on": "", **decision.details, "status": status_words(tracker, order.status)}
    say(dispatcher, tracker, domain, REFUSAL.get(decision.reason, "return_refused_not_returnable"),
        order_id=order.order_id, item=line.name, **{k: v for k, v in details.items() if k != "item"})


FILLER = {"the", "a", "an", "my", "one", "this", "that", "it", "item", "please", "i", "want", "to", "return",
          "exchange", "back", "send"}


def match_line(order: Order, text: str) -> OrderLine | None:
    """The order line `text` names: its sku, its position ("2"), its name, or
    the one line sharing the most words with it ("the lamp"); None if unclear."""
    text = (text or "").strip()
    if text.isdigit() and 1 <= int(text) <= len(order.items):
        return order.items[int(text) - 1]
    for line in order.items:
        if text.upper() == line.sku.upper() or text.lower() == line.name.lower():
            return line
    words = set(re.findall(r"\w+", text.lower())) - FILLER
    scored = sorted(((len(words & set(re.findall(r"\w+", line.name.lower()))), n)
                     for n, line in enumerate(order.items)), reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None  # nothing in common, or two items equally named
    return order.items[scored[0][1]]


class ValidateReturnForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_return_form"

    async def after_verified(self, order, dispatcher, tracker, domain) -> dict[str, Any]:
        try:
            checked = await decisions(order, tracker)
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            self.end_form()
            return {}
        eligible = [line for line, decision in checked if decision.allowed]
        if not eligible:
            line, decision = checked[0]
            refuse(decision, order, line, dispatcher, tracker, domain)
            self.end_form()
            return {}
        slots: dict[str, Any] = {}
        if len(order.items) == 1:
            if await self.cannot_exchange(eligible[0], dispatcher, tracker, domain):
                return {}
            slots["return_item"] = eligible[0].sku
        if kind(tracker) == "return":
            slots["exchange_for"] = NO_EXCHANGE
        return slots

    async def validate_return_item(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        order = await verified_order(tracker)
        if order is None:
            return {"return_item": None}
        line = match_line(order, str(value or ""))
        if line is None:
            if not not_an_answer(tracker, str(value or "")):
                say(dispatcher, tracker, domain, "return_item_unknown", order_id=order.order_id)
            return {"return_item": None}
        checked = dict(await decisions(order, tracker))
        if not checked[line].allowed:
            refuse(checked[line], order, line, dispatcher, tracker, domain)
            if not any(d.allowed for d in checked.values()):
                self.end_form()
            return {"return_item": None}
        if await self.cannot_exchange(line, dispatcher, tracker, domain):
            return {"return_item": None}
        return {"return_item": line.sku}

    async def cannot_exchange(self, line: OrderLine, dispatcher, tracker, domain) -> bool:
        """For an exchange: True (said, and the form ends) when the item comes in one
        version only or is out of stock, so there is nothing to exchange it for."""
        if kind(tracker) != "exchange":
            return False
        product = await store_data.shop().product(line.sku)
        if product is None or not (product.colours or product.sizes):
            say(dispatcher, tracker, domain, "exchange_no_options", item=line.name)
        elif product.in_stock <= 0:
            say(dispatcher, tracker, domain, "exchange_out_of_stock", item=line.name)
        else:
            return False
        self.end_form()
        return True

    async def validate_exchange_for(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        wanted = str(value or "").strip()
        if wanted == NO_EXCHANGE:
            return {"exchange_for": NO_EXCHANGE}
        order = await verified_order(tracker)
        line = order and line_of(order, tracker)
        if not line:
            return {"exchange_for": None}
        product = await store_data.shop().product(line.sku)
        options = [*product.colours, *product.sizes] if product else []
        chosen = chosen_options(wanted, options)
        if not chosen:
            if not not_an_answer(tracker, wanted):
                say(dispatcher, tracker, domain, "exchange_options", item=line.name, options=", ".join(options))
            return {"exchange_for": None}
        return {"exchange_for": ", ".join(chosen)}


def chosen_options(text: str, options: list[str]) -> list[str]:
    """The product's colours and sizes that `text` names, as the catalog writes them
    ("the clay one" -> ["clay"]; "白色" -> ["white"]); [] when it names none."""
    lowered = text.lower()
    for english, chinese in COLOUR_ZH.items():
        lowered = lowered.replace(chinese, f" {english} ").replace(chinese.rstrip("色"), f" {english} ")
    return [option for option in options
            if re.search(rf"(?<![\w-]){re.escape(option.lower())}(?![\w-])", lowered)]


def line_of(order: Order, tracker: Tracker) -> OrderLine | None:
    return next((line for line in order.items if line.sku == tracker.get_slot("return_item")), None)


class ActionAskReturnItem(Action):
    def name(self) -> str:
        return "action_ask_return_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        order = await verified_order(tracker)
        if order is not None:
            buttons = [{"title": line.name, "payload": line.sku} for line in order.items]
            say(dispatcher, tracker, domain, "ask_return_item", buttons=buttons,
                kind_word=KIND_WORD[language(tracker)][kind(tracker)])
        return []


class ActionAskExchangeFor(Action):
    def name(self) -> str:
        return "action_ask_exchange_for"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        order = await verified_order(tracker)
        line = order and line_of(order, tracker)
        if line:
            say(dispatcher, tracker, domain, "ask_exchange_for", item=line.name)
        return []


class ActionAskConfirmReturn(Action):
    def name(self) -> str:
        return "action_ask_confirm_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        order = await verified_order(tracker)
        line = order and line_of(order, tracker)
        if line:
            key = "confirm_exchange" if kind(tracker) == "exchange" else "confirm_return"
            say(dispatcher, tracker, domain, key, buttons=yes_no(tracker), order_id=order.order_id, item=line.name,
                exchange_for=tracker.get_slot("exchange_for"),
                kind_word=KIND_WORD[language(tracker)][kind(tracker)])
        return []


class ActionCreateReturn(Action):
    def name(self) -> str:
        return "action_create_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        reset = cleared(domain, FORM, "return_kind")
        try:
            order = await verified_order(tracker)
            line = order and line_of(order, tracker)
            if not line:
                say(dispatcher, tracker, domain, "order_check_failed")
                return reset
            if not tracker.get_slot("confirm_return"):
                say(dispatcher, tracker, domain, "return_kept", order_id=order.order_id)
                return reset
            decision = {ln.sku: d for ln, d in await decisions(order, tracker)}[line.sku]
            if not decision.allowed:
                refuse(decision, order, line, dispatcher, tracker, domain)
                return reset
            exchange_for = tracker.get_slot("exchange_for") if kind(tracker) == "exchange" else None
            record = await store_data.shop().create_return(order.order_id, [line.sku], kind(tracker),
                                                           reason="asked in chat", exchange_for=exchange_for)
        except ShopRefused as exc:
            if exc.reason in REFUSAL:
                refuse(Decision(False, exc.reason), order, line, dispatcher, tracker, domain)
            else:
                say(dispatcher, tracker, domain, "refused_other", order_id=order.order_id)
            return reset
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            return reset
        say(dispatcher, tracker, domain, "exchange_done" if record.kind == "exchange" else "return_done",
            return_id=record.return_id, item=line.name, exchange_for=exchange_for or "", email=order.email)
        return reset
