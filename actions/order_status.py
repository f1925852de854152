"""Order status: the order number, proof of ownership, then everything about the order."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.order_forms import OrderFormValidation, items_text, verified_order
from actions.replies import language, money, say
from knowledge.shop import Order, ShopError

# How each order state is told to a shopper. {eta}, {carrier}, {tracking},
# {delivered} are filled from the order record.
STATUS_TEXT = {
    "en": {
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
    },
    "zh": {
        "processing": "正在备货，预计 {eta} 前送达",
        "packed": "已打包，等待承运商揽收，预计 {eta} 前送达",
        "shipped": "已由 {carrier} 发货（运单号 {tracking}），预计 {eta} 前送达",
        "partially_shipped": "已由 {carrier} 部分发货（运单号 {tracking}），第一个包裹预计 {eta} 前送达",
        "delayed": "在 {carrier} 运输中延误（运单号 {tracking}），原定 {eta} 送达",
        "delivered": "已于 {delivered} 送达",
        "on_hold": "目前暂停处理",
        "cancelled": "已取消",
        "return_requested": "已于 {delivered} 送达，并已申请退货",
        "returned": "已退货",
        "refunded": "已退货并退款",
    },
}
UNKNOWN_STATUS = {"en": "has the status '{status}'", "zh": "状态为“{status}”"}
DETAILS = {"en": "Items: {items}. Total: {total}. Shipping to: {address}.",
           "zh": "商品：{items}。合计：{total}。收货地址：{address}。"}


def describe_order(order: Order, lang: str = "en") -> str:
    """One paragraph about `order` for its proven owner: status, items, total, address, note."""
    template = STATUS_TEXT[lang].get(order.status, UNKNOWN_STATUS[lang])
    unknown = "未知日期" if lang == "zh" else "an unknown date"
    status = template.format(eta=order.estimated_delivery or unknown,
                             carrier=order.carrier or ("承运商" if lang == "zh" else "our carrier"),
                             tracking=order.tracking_number or ("暂无" if lang == "zh" else "not yet available"),
                             delivered=order.delivered_on or unknown, status=order.status.replace("_", " "))
    head = f"订单 {order.order_id}{status}。" if lang == "zh" else f"Order {order.order_id} {status}."
    text = head + " " + DETAILS[lang].format(items=items_text(order), total=money(order.total, order.currency),
                                             address=order.shipping_address.one_line() or "-")
    if order.note:
        text += f" {order.note}"
    return text


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            order = await verified_order(tracker)
        except ShopError:
            say(dispatcher, tracker, domain, "store_unavailable")
            return [SlotSet("order_id", None), SlotSet("order_check", None)]
        if order is None:
            say(dispatcher, tracker, domain, "order_check_failed")
        else:
            say(dispatcher, tracker, domain, "order_status", description=describe_order(order, language(tracker)))
        # Forget the number so the next question about an order asks again (a proven order asks nothing).
        return [SlotSet("order_id", None), SlotSet("order_check", None)]
