"""Address change, while the order is not yet packed, after proof of ownership and a yes."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store_data
from actions.order_forms import OrderFormValidation, verified_order
from actions.replies import say, yes_no
from knowledge.shop import Address, Order, ShopError, ShopRefused
from knowledge.shop.policy import can_change_address

FORM_SLOTS = ("order_id", "order_check", "new_address", "confirm_address")
# The postcode in an address line: US ZIP (+4), UK, Canadian, or 4-6 digits (most others, China's 6).
POSTCODE_IN_LINE = re.compile(r"\b(\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"
                              r"|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{4,6})\b", re.IGNORECASE)


def parse_address(text: str, old: Address) -> Address | None:
    """An address from one line ("12 Oak St, Springfield, IL 62701"): the
    street first, then the city, then region and postcode; the name and
    country are kept from the old address. None without a street number or a
    postcode. The shopper confirms what was read before anything changes."""
    parts = [p.strip() for p in re.split(r"[,\n，]", text or "") if p.strip()]
    if len(parts) < 2 or len(text) > 200 or not re.search(r"\d", parts[0]):
        return None
    last = POSTCODE_IN_LINE.search(parts[-1])
    if last is None:
        return None
    postcode = last.group(1)
    rest_of_last = (parts[-1][:last.start()] + parts[-1][last.end():]).strip()
    middle = parts[1:-1]
    if middle:  # "street, city, region postcode"
        city, region = middle[0], rest_of_last
    else:  # "street, city postcode"
        city, region = rest_of_last, ""
    return Address(name=old.name, line1=parts[0], city=city, region=region, postcode=postcode, country=old.country)


def refuse(order: Order, dispatcher, tracker, domain, reason: str = "already_packed") -> None:
    say(dispatcher, tracker, domain, "address_refused_packed" if reason == "already_packed" else "refused_other",
        order_id=order.order_id, status=order.status.replace("_", " "))


class ValidateAddressChangeForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_address_change_form"

    async def after_verified(self, order, dispatcher, tracker, domain) -> dict[str, Any]:
        if not can_change_address(order, store_data.policy()).allowed:
            refuse(order, dispatcher, tracker, domain)
            self.end_form()
        return {}

    async def validate_new_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        order = await verified_order(tracker)
        address = parse_address(str(value or ""), order.shipping_address) if order else None
        if address is None:
            say(dispatcher, tracker, domain, "address_invalid")
            return {"new_address": None}
        return {"new_address": address.one_line(), "new_address_fields": address.__dict__}


class ActionAskNewAddress(Action):
    def name(self) -> str:
        return "action_ask_new_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        order = await verified_order(tracker)
        if order is not None:
            say(dispatcher, tracker, domain, "ask_new_address", order_id=order.order_id,
                address=order.shipping_address.one_line())
        return []


class ActionAskConfirmAddress(Action):
    def name(self) -> str:
        return "action_ask_confirm_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        say(dispatcher, tracker, domain, "confirm_address", buttons=yes_no(tracker),
            order_id=tracker.get_slot("order_id"), address=tracker.get_slot("new_address"))
        return []


class ActionChangeAddress(Action):
    def name(self) -> str:
        return "action_change_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        reset = [SlotSet(slot, None) for slot in FORM_SLOTS] + [SlotSet("new_address_fields", None)]
        try:
            order = await verified_order(tracker)
            fields = tracker.get_slot("new_address_fields")
            if order is None or not isinstance(fields, dict):
                say(dispatcher, tracker, domain, "order_check_failed")
                return reset
            if not tracker.get_slot("confirm_address"):
                say(dispatcher, tracker, domain, "address_kept", order_id=order.order_id)
                return reset
            if not can_change_address(order, store_data.policy()).allowed:
                refuse(order, dispatcher, tracker, domain)
                return reset
            updated = await store_data.shop().change_address(order.order_id, Address.from_dict(fields))
        except ShopRefused as exc:
            refuse(order, dispatcher, tracker, domain, exc.reason)
            return reset
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            return reset
        say(dispatcher, tracker, domain, "address_done", order_id=updated.order_id,
            address=updated.shipping_address.one_line())
        return reset
