"""What every order form shares: the order number, then proof that the
shopper owns the order, before anything about it is shown or changed.

Each order form (status, cancellation, return/exchange, address change)
requires `order_id` then `order_check`. `order_check` is filled from the
shopper's next message (an e-mail address or postcode) or, with no question
asked, from a customer token the store's logged-in page signed. A wrong
answer and an unknown order get the same reply, so nothing tells whether the
order exists. After `verification_max_failures` wrong answers within
`verification_lockout_s` the conversation cannot look orders up until the
pause is over. The slot `verified_order` remembers the order proven in this
conversation, so a second question about it asks nothing again.
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from filelock import FileLock
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store_data
from actions.replies import say
from knowledge.shop import Order, ShopError, normalise_email, normalise_order_id
from knowledge.shop.identity import find_proof, proves_ownership

VERIFIED = "verified"  # the value order_check holds once ownership is proven (never the e-mail itself)
FAILURES_SLOT = "verification_failures"  # unix times of wrong answers in this conversation
VERIFIED_SLOT = "verified_order"

_ended: contextvars.ContextVar[list | None] = contextvars.ContextVar("order_form_ended", default=None)


QUESTION = re.compile(r"[?？]\s*$|^\s*(?:how|what|when|where|why|which|who|can|could|do|does|did|is|are|will|"
                      r"would|should|may)\b|吗\s*$|^\s*(?:怎么|为什么|什么|多久|能不能|可以|是否)", re.IGNORECASE)


# Intents that leave a form's question unanswered ("I want to talk to a human", "never mind").
ESCAPE_INTENTS = ("human_handoff", "stop")


def not_an_answer(tracker: Tracker, text: str) -> bool:
    """True for a message that a form's free-text step could not read and that is a
    question ("how long do refunds take?") or a request for a person: the validation
    then keeps nothing and says nothing, so the bot handles the message by its own
    rule (answers it, or hands over) and then asks again."""
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return bool(QUESTION.search(text or "")) or intent in ESCAPE_INTENTS


def items_text(order: Order) -> str:
    return ", ".join(f"{line.quantity} x {line.name}" for line in order.items)


def recent_failures(tracker: Tracker, now: float | None = None) -> list[float]:
    window = store_data.policy().verification_lockout_s
    now = time.time() if now is None else now
    return [t for t in (tracker.get_slot(FAILURES_SLOT) or []) if isinstance(t, (int, float)) and now - t < window]


def cleared(domain: DomainDict, form: str, *also: str) -> list[dict]:
    """SlotSet(None) for each of `form`'s required slots (from the domain) and `also`:
    once a form is done or stopped, its next run starts afresh."""
    slots = (domain.get("forms") or {}).get(form, {}).get("required_slots", [])
    return [SlotSet(slot, None) for slot in (*slots, *also)]


class OrderGuesses:
    """Wrong answers per order number from all conversations, so that a guesser who
    opens a new conversation for every try is stopped as well. Kept in a small JSON
    file under the data directory, under a file lock, so every process on the
    machine counts together (the bot's workers and a local action server); give
    action servers on other machines the same data directory to share the count."""

    def __init__(self, path: Path | None = None):
        self._path = path

    @property
    def path(self) -> Path:
        return self._path or store_data.config().data_dir / "store" / "order-guesses.json"

    def _update(self, change) -> dict[str, list[float]]:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            try:
                times = json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                times = {}
            window = store_data.policy().verification_lockout_s
            now = time.time()
            times = {k: [t for t in v if now - t < window] for k, v in times.items() if isinstance(v, list)}
            if change(times):
                times = {k: v for k, v in times.items() if v}
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(json.dumps(times), encoding="utf-8")
                os.replace(tmp, path)
            return times

    def clear(self) -> None:
        self._update(lambda times: times.clear() is None)

    def add(self, order_id: str, now: float) -> None:
        self._update(lambda times: times.setdefault(order_id, []).append(now) is None)

    def locked_minutes(self, order_id: str, now: float) -> int | None:
        policy = store_data.policy()
        recent = sorted(self._update(lambda times: False).get(order_id, []))
        if len(recent) < policy.verification_max_failures_per_order:
            return None
        return max(1, round((policy.verification_lockout_s - (now - recent[0])) / 60))


GUESSES = OrderGuesses()


def locked_minutes(tracker: Tracker) -> int | None:
    """Minutes left of the pause after too many wrong answers, or None."""
    policy = store_data.policy()
    failures = recent_failures(tracker)
    if len(failures) < policy.verification_max_failures:
        return None
    left = policy.verification_lockout_s - (time.time() - failures[-policy.verification_max_failures])
    return max(1, round(left / 60))


class OrderFormValidation(FormValidationAction, abc.ABC):
    """Validation of `order_id` and `order_check`, shared by the order forms.
    Subclasses give `name()` and may override `after_verified` (the form's own
    eligibility check) and add `validate_<slot>` for their further slots."""

    @abc.abstractmethod
    def name(self) -> str:
        """validate_<form name>"""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        token = _ended.set([])
        try:
            events = await super().run(dispatcher, tracker, domain)
            if _ended.get():
                # the form stops: its slots are cleared so the next request starts afresh
                events += cleared(domain, self.form_name()) + [ActiveLoop(None)]
            return events
        finally:
            _ended.reset(token)

    @staticmethod
    def end_form() -> None:
        """Stop the form after this validation (its slots are cleared)."""
        ended = _ended.get()
        if ended is not None:
            ended.append(True)

    async def after_verified(self, order: Order, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        """The form's check once the shopper owns `order`: extra slots to set;
        call `end_form()` after explaining why it cannot go on."""
        return {}

    async def _verified(self, order_id: str, dispatcher, tracker, domain) -> dict[str, Any]:
        try:
            order = await store_data.shop().order(order_id)
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            self.end_form()
            return {}
        if order is None:  # gone since it was proven: treat as unknown
            say(dispatcher, tracker, domain, "order_check_failed")
            return {"order_id": None, "order_check": None}
        slots = {"order_id": order_id, "order_check": VERIFIED, VERIFIED_SLOT: order_id}
        slots.update(await self.after_verified(order, dispatcher, tracker, domain))
        return slots

    async def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        minutes = locked_minutes(tracker)
        if minutes is not None:
            say(dispatcher, tracker, domain, "order_check_locked", minutes=minutes)
            self.end_form()
            return {"order_id": None}
        order_id = normalise_order_id(str(value or ""))
        if order_id is None:
            say(dispatcher, tracker, domain, "order_id_invalid")
            return {"order_id": None}
        if tracker.get_slot(VERIFIED_SLOT) == order_id:
            return await self._verified(order_id, dispatcher, tracker, domain)
        email = store_data.customer_email(tracker)
        if email:
            # a logged-in shopper: no question when the order is theirs; otherwise the
            # usual question follows, which tells nothing about the order
            try:
                order = await store_data.shop().order(order_id)
            except ShopError:
                say(dispatcher, tracker, domain, "store_unavailable")
                self.end_form()
                return {"order_id": None}
            if order is not None and normalise_email(order.email) == email:
                return await self._verified(order_id, dispatcher, tracker, domain)
        return {"order_id": order_id, "order_check": None}

    async def validate_order_check(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        if value == VERIFIED and tracker.get_slot(VERIFIED_SLOT) == tracker.get_slot("order_id"):
            return {"order_check": VERIFIED}
        other_order = normalise_order_id(str(value or ""))
        if other_order:  # another order number instead: that order, and its details are asked for
            return await self.validate_order_id(other_order, dispatcher, tracker, domain)
        claim = find_proof(str(value or ""))
        if claim is None:
            return {"order_check": None}  # not an answer (a question typed instead): the form asks again
        minutes = locked_minutes(tracker)
        if minutes is not None:
            say(dispatcher, tracker, domain, "order_check_locked", minutes=minutes)
            self.end_form()
            return {"order_check": None}
        order_id = tracker.get_slot("order_id")
        minutes = await asyncio.to_thread(GUESSES.locked_minutes, order_id or "", time.time())
        if minutes is not None:
            say(dispatcher, tracker, domain, "order_locked", minutes=minutes)
            self.end_form()
            return {"order_check": None}
        try:
            order = await store_data.shop().order(order_id) if order_id else None
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            self.end_form()
            return {"order_check": None}
        if order is not None and proves_ownership(order, claim):
            return await self._verified(order.order_id, dispatcher, tracker, domain)
        failures = recent_failures(tracker) + [time.time()]
        await asyncio.to_thread(GUESSES.add, order_id or "", failures[-1])
        slots = {"order_check": None, "order_id": None, FAILURES_SLOT: failures}
        if len(failures) >= store_data.policy().verification_max_failures:
            say(dispatcher, tracker, domain, "order_check_locked",
                minutes=max(1, round(store_data.policy().verification_lockout_s / 60)))
            self.end_form()
        else:
            say(dispatcher, tracker, domain, "order_check_failed")
        return slots


async def verified_order(tracker: Tracker) -> Order | None:
    """The order the form proved, or None (not proven, or gone)."""
    order_id = tracker.get_slot("order_id")
    if not order_id or tracker.get_slot("order_check") != VERIFIED or tracker.get_slot(VERIFIED_SLOT) != order_id:
        return None
    return await store_data.shop().order(order_id)


class ActionAskOrderId(Action):
    """The order forms' first question. Right after an order was proven in this
    conversation ("where is SK-1019?" ... "cancel it"), it offers that order as a
    button rather than asking for the number again."""

    def name(self) -> str:
        return "action_ask_order_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        proven = tracker.get_slot(VERIFIED_SLOT)
        if proven:
            say(dispatcher, tracker, domain, "ask_same_order", buttons=[{"title": proven, "payload": proven}],
                order_id=proven)
        elif "utter_ask_order_id" in (domain.get("responses") or {}):
            dispatcher.utter_message(response="utter_ask_order_id")
        else:
            say(dispatcher, tracker, domain, "ask_order_id")
        return []

