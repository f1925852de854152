"""Address change, while the order is not yet packed, after proof of ownership and a yes."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store_data
from actions.order_forms import OrderFormValidation, cleared, not_an_answer, verified_order
from actions.replies import say, status_words, yes_no
from knowledge.shop import Address, Order, ShopError, ShopRefused
from knowledge.shop.policy import can_change_address

FORM = "address_change_form"
# The postcode in an address line: US ZIP (+4), UK, Canadian, or 4-6 digits (most others, China's 6).
POSTCODE_IN_LINE = re.compile(r"\b(\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"
                              r"|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{4,6})\b", re.IGNORECASE)


# Country names a shopper may write in an address, and how the address records them.
COUNTRIES = {"united states": "US", "usa": "US", "us": "US", "united kingdom": "UK", "uk": "UK", "england": "UK",
             "canada": "CA", "australia": "AU", "china": "CN", "中国": "CN", "germany": "DE", "france": "FR",
             "ireland": "IE", "new zealand": "NZ"}


def country_in(text: str) -> str | None:
    lowered = text.lower()
    return next((code for name, code in COUNTRIES.items()
                 if (name in lowered if not name.isascii() else re.search(rf"\b{re.escape(name)}\b", lowered))),
                None)


def parse_address(text: str, old: Address) -> Address | None:
    """An address written on one line: the street first, then the city, then
    region and postcode, then optionally the country ("12 Oak St, Springfield,
    IL 62701"; "10 Downing Street, London SW1A 2AA, UK"; "上海市浦东新区世纪大道100号
    200120"). The name, and the country unless given, are kept from the old
    address. None without a street number or a postcode. The shopper confirms
    what was read before anything changes."""
    text = (text or "").strip()
    if len(text) > 200:
        return None
    parts = [p.strip() for p in re.split(r"[,\n，]", text) if p.strip()]
    if len(parts) == 1:  # no commas: the postcode is the last one in the line
        found = list(POSTCODE_IN_LINE.finditer(parts[0]))
        if len(found) < 2 and not re.search(r"\d", parts[0][:found[-1].start()] if found else ""):
            return None
        last = found[-1]
        street = (parts[0][:last.start()] + parts[0][last.end():]).strip()
        return Address(name=old.name, line1=street, postcode=last.group(1),
                       country=country_in(text) or old.country)
    if not re.search(r"\d", parts[0]):
        return None
    for k in range(len(parts) - 1, 0, -1):
        if found := POSTCODE_IN_LINE.search(parts[k]):
            break
    else:
        return None
    rest = (parts[k][:found.start()] + parts[k][found.end():]).strip()
    named = parts[k + 1] if k + 1 < len(parts) and not re.search(r"\d", parts[k + 1]) else None
    country = (country_in(named) or named) if named else (country_in(text) or old.country)
    city, region = (parts[1], rest) if k > 1 else (rest, "")
    return Address(name=old.name, line1=parts[0], city=city, region=region, postcode=found.group(1), country=country)


def refuse(order: Order, dispatcher, tracker, domain, reason: str = "already_packed") -> None:
    say(dispatcher, tracker, domain, "address_refused_packed" if reason == "already_packed" else "refused_other",
        order_id=order.order_id, status=status_words(tracker, order.status))


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
        if order is None:
            return {"new_address": None}
        address = parse_address(str(value or ""), order.shipping_address)
        if address is None:
            if not not_an_answer(tracker, str(value or "")):
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
                address=order.shipping_address.one_line(), country=order.shipping_address.country or "-")
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
        reset = cleared(domain, FORM, "new_address_fields")
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
