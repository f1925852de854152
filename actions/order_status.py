"""Order status: a form asks for the order number, then the order is looked up."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from knowledge.orders import get_order_book, normalise_order_id

# How each order state is told to a shopper. {eta}, {carrier}, {tracking},
# {delivered} are filled from the order record.
STATUS_TEXT = {
    "processing": "is being prepared and should arrive by {eta}",
    "packed": "is packed and waiting for the carrier; it should arrive by {eta}",
    "shipped": "has shipped with {carrier} (tracking number {tracking}) and should arrive by {eta}",
    "partially_shipped": "has partly shipped with {carrier} (tracking number {tracking}); "
                         "the first package should arrive by {eta}",
    "delayed": "is delayed with {carrier} (tracking number {tracking}); it was due on {eta}",
    "delivered": "was delivered on {delivered}",
    "on_hold": "is on hold",
    "cancelled": "was cancelled",
    "return_requested": "was delivered on {delivered}, and a return has been requested",
    "returned": "was returned",
    "refunded": "was returned and refunded",
}


def describe_order(order: dict) -> str:
    items = ", ".join(f"{line['quantity']} x {line['name']}" for line in order["items"])
    template = STATUS_TEXT.get(order["status"], "has the status '" + order["status"].replace("_", " ") + "'")
    status = template.format(eta=order.get("estimated_delivery") or "an unknown date",
                             carrier=order.get("carrier") or "our carrier",
                             tracking=order.get("tracking_number") or "not yet available",
                             delivered=order.get("delivered_on") or "an unknown date")
    text = f"Order {order['order_id']} ({items}) {status}."
    if order.get("note"):
        text += f" {order['note']}"
    return text


class ValidateOrderStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_status_form"

    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> dict[str, Any]:
        canonical = normalise_order_id(str(value or ""))
        if canonical is None:
            dispatcher.utter_message(text="That doesn't look like one of our order numbers. "
                                          "They start with SK- and have four or more digits, like SK-1234.")
            return {"order_id": None}
        if get_order_book().get(canonical) is None:
            dispatcher.utter_message(text=f"I couldn't find an order {canonical}. "
                                          "Please check the number in your confirmation e-mail.")
            return {"order_id": None}
        return {"order_id": canonical}


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        order_id = tracker.get_slot("order_id")
        order = get_order_book().get(order_id or "")
        if order is None:
            dispatcher.utter_message(text="I couldn't find that order. Would you like me to connect you "
                                          "with a person from our team?")
        else:
            dispatcher.utter_message(text=describe_order(order), custom={"order_id": order["order_id"],
                                                                          "status": order["status"]})
        # Forget the number so the next question about an order asks again.
        return [SlotSet("order_id", None)]
