"""What the actions say, in English and Chinese.

`say(dispatcher, tracker, domain, key, **values)` sends the domain's
`utter_<key>` response when the store's domain.yml has one (so a store can
reword any of these; the values fill its {names}), else the text below in the
shopper's language (the `language` slot, else detected from the message).
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.dialogue.engine import HANDOFF_TEXT
from lm.language import has_chinese

REPLIES: dict[str, dict[str, str]] = {
    # -- proving the order is the shopper's
    "ask_order_id": {"en": "What is your order number? It starts with SK-, for example SK-1234.",
                     "zh": "请告诉我您的订单号，以 SK- 开头，例如 SK-1234。"},
    "ask_same_order": {"en": "Is this about order {order_id}? If it's another one, tell me its number.",
                       "zh": "是关于订单 {order_id} 吗？如果是其他订单，请告诉我订单号。"},
    "order_id_invalid": {
        "en": "That doesn't look like one of our order numbers. They start with SK- and have four or more "
              "digits, like SK-1234.",
        "zh": "这似乎不是我们的订单号。订单号以 SK- 开头，后面至少四位数字，例如 SK-1234。"},
    "order_check_failed": {
        "en": "I couldn't find an order with that number and those details. Please check the order number "
              "and the e-mail address or postcode in your confirmation e-mail.",
        "zh": "没有找到与该订单号和信息相符的订单。请核对确认邮件中的订单号以及邮箱地址或邮编。"},
    "order_check_locked": {
        "en": "For your security I can't look up orders in this conversation for the next {minutes} minutes, "
              "after several details that didn't match. You can ask for a person from our team instead.",
        "zh": "由于多次核对信息不符，为了您的账户安全，接下来 {minutes} 分钟内我无法在此对话中查询订单。"
              "您也可以要求转接人工客服。"},
    "order_locked": {
        "en": "For security, this order number can't be looked up here for the next {minutes} minutes, after "
              "many details that didn't match. A person from our team can help you: just ask for one.",
        "zh": "由于多次核对信息不符，为了安全，接下来 {minutes} 分钟内无法在这里查询该订单号。"
              "工作人员可以帮您处理，您可以要求转接人工客服。"},
    "store_unavailable": {
        "en": "I can't reach our order system right now, so I haven't changed anything. Please try again in a "
              "few minutes, or ask for a person from our team.",
        "zh": "暂时无法连接我们的订单系统，因此没有做任何更改。请过几分钟再试，或要求转接人工客服。"},
    # -- order status
    "order_status": {"en": "{description}", "zh": "{description}"},
    # -- cancellation
    "confirm_cancel": {
        "en": "Order {order_id} ({items}, {total}) has not been packed yet, so it can be cancelled free of "
              "charge. Shall I cancel it?",
        "zh": "订单 {order_id}（{items}，{total}）尚未打包，可以免费取消。需要我为您取消吗？"},
    "cancel_done": {
        "en": "Done: order {order_id} is cancelled. The refund of {total} goes back to your original payment "
              "method.",
        "zh": "已完成：订单 {order_id} 已取消。{total} 将退回到您原来的付款方式。"},
    "cancel_kept": {"en": "All right, order {order_id} stays as it is.",
                    "zh": "好的，订单 {order_id} 保持不变。"},
    "cancel_refused_packed": {
        "en": "Order {order_id} is already {status}, so it can no longer be cancelled. Once it is delivered "
              "you can return it within {return_days} days of delivery.",
        "zh": "订单 {order_id} {status}，无法再取消。收货后 {return_days} 天内可以申请退货。"},
    "cancel_refused_window": {
        "en": "Order {order_id} can only be cancelled within {hours} hours of ordering, and that time has "
              "passed. Once it is delivered you can return it within {return_days} days of delivery.",
        "zh": "订单只能在下单后 {hours} 小时内取消，订单 {order_id} 已超过该时限。"
              "收货后 {return_days} 天内可以申请退货。"},
    "refused_other": {
        "en": "I can't make that change to order {order_id} from here. A person from our team can look at it: "
              "just ask for one.",
        "zh": "我无法在这里对订单 {order_id} 做此更改。工作人员可以帮您处理，您可以要求转接人工客服。"},
    "cancel_refused_cancelled": {"en": "Order {order_id} is already cancelled.",
                                 "zh": "订单 {order_id} 已经取消了。"},
    # -- returns and exchanges
    "ask_return_item": {"en": "Which item would you like to {kind_word}?",
                        "zh": "您想{kind_word}哪件商品？"},
    "return_item_unknown": {"en": "I couldn't match that to an item in order {order_id}. Please pick one below.",
                            "zh": "无法在订单 {order_id} 中找到该商品，请从下面选择。"},
    "ask_exchange_for": {"en": "What would you like instead of the {item}: which size or colour?",
                         "zh": "您想把 {item} 换成什么：哪个尺码或颜色？"},
    "exchange_options": {"en": "The {item} comes in: {options}. Which would you like instead?",
                         "zh": "{item} 有这些选项：{options}。您想换成哪一个？"},
    "exchange_no_options": {
        "en": "The {item} comes in one version only, so there is nothing to exchange it for. I can open a "
              "return instead: just say you want to return it.",
        "zh": "{item} 只有一个款式，无法换货。我可以为您办理退货：告诉我您要退货即可。"},
    "exchange_out_of_stock": {
        "en": "The {item} is out of stock right now, so I can't open an exchange. I can open a return instead, "
              "or a person from our team can help.",
        "zh": "{item} 目前缺货，无法换货。我可以为您办理退货，或为您转接人工客服。"},
    "confirm_return": {
        "en": "I'll open a {kind_word} for {item} from order {order_id}. It must be unused and in its "
              "original packaging. Shall I go ahead?",
        "zh": "我将为订单 {order_id} 中的 {item} 办理{kind_word}。商品须未使用并保留原包装。确认办理吗？"},
    "confirm_exchange": {
        "en": "I'll open an exchange of {item} from order {order_id} for {exchange_for}. It must be unused and "
              "in its original packaging. Shall I go ahead?",
        "zh": "我将为订单 {order_id} 中的 {item} 办理换货，换成 {exchange_for}。"
              "商品须未使用并保留原包装。确认办理吗？"},
    "return_done": {
        "en": "Return {return_id} is open for {item}. We'll e-mail a prepaid return label to {email}: pack the "
              "item unused in its original packaging, attach the label and drop it at any UPS location. We "
              "refund within 2 business days after it reaches our warehouse, to your original payment method.",
        "zh": "已为 {item} 创建退货单 {return_id}。我们会把预付退货标签发送到 {email}：请将未使用的商品连同原包装打包，"
              "贴上标签后交到任意 UPS 网点。退货到达仓库后 2 个工作日内，我们会退款到您原来的付款方式。"},
    "exchange_done": {
        "en": "Exchange {return_id} is open: {item} for {exchange_for}. We'll e-mail a prepaid return label to "
              "{email}; we ship the new one as soon as the original is scanned by the carrier, at no extra "
              "shipping cost.",
        "zh": "已创建换货单 {return_id}：{item} 换成 {exchange_for}。我们会把预付退货标签发送到 {email}；"
              "原商品被承运商扫描后，我们会立即免运费寄出新商品。"},
    "return_kept": {"en": "All right, I haven't opened anything for order {order_id}.",
                    "zh": "好的，我没有为订单 {order_id} 办理任何申请。"},
    "return_refused_final_sale": {
        "en": "{item} was bought as Final Sale, so it cannot be returned or exchanged.",
        "zh": "{item} 属于最终促销（Final Sale）商品，不能退货或换货。"},
    "return_refused_not_returnable": {"en": "{item} cannot be returned or exchanged under our policy.",
                                      "zh": "根据我们的政策，{item} 不能退货或换货。"},
    "return_refused_window": {
        "en": "Order {order_id} was delivered on {delivered_on}; returns and exchanges are possible within "
              "{days} days of delivery, and that time has passed.",
        "zh": "订单 {order_id} 于 {delivered_on} 送达；退换货需在收货后 {days} 天内申请，已超过期限。"},
    "return_refused_not_delivered": {
        "en": "Order {order_id} hasn't been delivered yet ({status}). You can return or exchange items once "
              "it arrives. If you no longer want it, I can check whether it can still be cancelled.",
        "zh": "订单 {order_id} 尚未送达（{status}）。收货后即可申请退换货。如果您不想要了，我可以查看是否还能取消。"},
    "return_refused_requested": {"en": "A return of {item} from order {order_id} has already been requested.",
                                 "zh": "订单 {order_id} 中的 {item} 已经申请过退货。"},
    "return_refused_cancelled": {"en": "Order {order_id} was cancelled, so there is nothing to return.",
                                 "zh": "订单 {order_id} 已取消，无需退货。"},
    # -- address change
    "ask_new_address": {
        "en": "Order {order_id} is going to {address}. What is the new address? Please write it on one line: "
              "street, city, region, postcode and, if it is not {country}, the country.",
        "zh": "订单 {order_id} 目前寄往：{address}。新的地址是什么？请写在一行：街道、城市、省/州、邮编，"
              "如果不在 {country} 请写上国家。"},
    "address_invalid": {"en": "That doesn't look like a full address. Please give the street and number, the "
                              "city and the postcode, on one line.",
                        "zh": "这看起来不是完整的地址。请在一行内写明街道门牌、城市和邮编。"},
    "confirm_address": {"en": "Change the shipping address of order {order_id} to: {address}?",
                        "zh": "把订单 {order_id} 的收货地址改为：{address}？"},
    "address_done": {"en": "Done: order {order_id} will go to {address}.",
                     "zh": "已完成：订单 {order_id} 将寄往 {address}。"},
    "address_kept": {"en": "All right, the address of order {order_id} stays as it was.",
                     "zh": "好的，订单 {order_id} 的地址保持不变。"},
    "address_refused_packed": {
        "en": "Order {order_id} is already {status}, so we can no longer change its address. You can ask the "
              "carrier to redirect the package with the tracking link.",
        "zh": "订单 {order_id} {status}，我们无法再修改地址。您可以通过物流追踪链接请承运商改派。"},
    # -- handoff
    "handoff": HANDOFF_TEXT,
}

# An order's state as the refusals say it ("is already packed", "已打包").
STATUS_WORDS = {"en": {"packed": "packed", "shipped": "on its way", "partially_shipped": "partly on its way",
                       "delayed": "on its way", "delivered": "delivered", "return_requested": "delivered",
                       "returned": "returned", "refunded": "returned", "cancelled": "cancelled"},
                "zh": {"packed": "已打包", "shipped": "已发货", "partially_shipped": "已部分发货",
                       "delayed": "已在运输中", "delivered": "已送达", "return_requested": "已送达",
                       "returned": "已退货", "refunded": "已退货", "cancelled": "已取消"}}


def status_words(tracker: Tracker, status: str) -> str:
    """How a refusal names the order's state, in the shopper's language."""
    lang = language(tracker)
    return STATUS_WORDS[lang].get(status, status.replace("_", " ") if lang == "en" else f"状态为“{status}”")


YES_NO = {"en": [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}],
          "zh": [{"title": "是的", "payload": "是的"}, {"title": "不用了", "payload": "不用了"}]}


def money(amount: float, currency: str = "USD") -> str:
    """A price as the shopper reads it: "$1,299.00", "45.00 EUR"."""
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def language(tracker: Tracker) -> str:
    """"zh" or "en": the conversation's `language` slot, else the latest message's script."""
    lang = tracker.get_slot("language")
    if lang in ("en", "zh"):
        return lang
    return "zh" if has_chinese((tracker.latest_message or {}).get("text") or "") else "en"


def text(tracker: Tracker, key: str, **values) -> str:
    """The built-in reply `key` in the shopper's language, filled with `values`."""
    return REPLIES[key][language(tracker)].format(**values)


def say(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, key: str,
        buttons: list[dict] | None = None, **values) -> None:
    """Send reply `key`: the domain's `utter_<key>` if it has one, else the built-in text."""
    if f"utter_{key}" in (domain.get("responses") or {}):
        dispatcher.utter_message(response=f"utter_{key}", buttons=buttons, **values)
    else:
        dispatcher.utter_message(text=text(tracker, key, **values), buttons=buttons)


def yes_no(tracker: Tracker) -> list[dict]:
    return YES_NO[language(tracker)]
