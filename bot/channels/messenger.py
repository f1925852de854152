"""Messenger: GET + POST /webhooks/messenger (a Facebook Page's messages).

Verified by X-Hub-Signature-256 (the Meta app's secret), and subscribed by
the hub.challenge handshake: bot/channels/meta.py.
Source: https://developers.facebook.com/docs/messenger-platform/webhooks

Read: the `messaging` events of a "page" object. The sender's page-scoped
id (PSID) is the address, the page written to (`recipient.id`) is kept as
`via`. A message (deduplicated by its `mid`): text; a quick reply (its
payload is the text, its title the text shown); an image or a location
(other attachments and stickers get the "text only" reply). A postback (a
button of a template or of the page's menu: its payload, its title shown),
deduplicated by its `mid`, or by sender and time when it has none.
Ignored, and acknowledged: echoes of the page's own messages, deliveries,
reads, reactions, edits, referrals, `standby` events and other objects
(Instagram's).

Sent: POST /me/messages with the page's access token and messaging type
RESPONSE. Texts split at 2,000 characters; buttons as quick replies (at
most 13, titles 20 characters, payloads 1,000) on the message's last part,
as Messenger drops them when a later message arrives; more than 13 as
numbered options in the text. Product cards as a generic template (at most
10 cards each; titles and subtitles 80 characters) with a link button,
images as an image attachment.

Only within 24 hours of the shopper's last message, as on WhatsApp
(bot/channels/meta.py); Meta's error 10/2018278 ("sent outside of allowed
window") is recorded the same way. (The HUMAN_AGENT tag, which allows a
person 7 days, needs Meta's approval and is not used.)
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from bot.channels.meta import MetaChannel
from bot.channels.webhooks import (
    Inbound,
    absolute,
    clip,
    numbered,
    record_lang,
    sources_line,
    split_text,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000
QUICK_REPLIES = 13
QUICK_REPLY_TITLE_LIMIT = 20
QUICK_REPLY_PAYLOAD_LIMIT = 1000
TEMPLATE_ELEMENTS = 10
ELEMENT_TEXT_LIMIT = 80  # an element's title and subtitle
BUTTON_TITLE_LIMIT = 20


class MessengerChannel(MetaChannel):
    name = "messenger"
    title = "Messenger"
    object_type = "page"

    def numbers_buttons(self, buttons: list[dict]) -> bool:
        """More than 13, or titles that look alike once cut to 20 characters: numbered options."""
        titles = {_title(b) for b in buttons}
        return len(buttons) > QUICK_REPLIES or len(titles) < len(buttons)

    @property
    def access_token(self) -> str:
        """The Send API takes a Page access token: SHOPKEEP_META_PAGE_TOKEN when set, else the app's token."""
        return self.credentials.page_token or self.credentials.access_token

    def parse(self, request: web.Request, body: bytes) -> list[Inbound]:
        events = []
        for entry in self.entries(body):
            for item in entry.get("messaging") or []:
                if isinstance(item, dict) and (event := self._event(item)):
                    events.append(event)
        return events

    def _event(self, item: dict) -> Inbound | None:
        sender = str((item.get("sender") or {}).get("id") or "")
        page = str((item.get("recipient") or {}).get("id") or "")
        timestamp = item.get("timestamp")
        received_at = _seconds(timestamp)
        if not sender:
            return None
        if isinstance(message := item.get("message"), dict):
            if message.get("is_echo") or not message.get("mid"):
                return None  # the page's own message (the bot's, or a person's in the inbox)
            event = Inbound(self.name, str(message["mid"]), sender, via=page, received_at=received_at)
            _read(event, message)
            return event
        if isinstance(postback := item.get("postback"), dict):
            payload = postback.get("payload") or postback.get("title")
            if not payload:
                return None
            event_id = str(postback.get("mid") or f"{sender}:{timestamp}")
            return Inbound(self.name, event_id, sender, text=str(payload), display=postback.get("title") or None,
                           via=page, received_at=received_at)
        return None  # delivery, read, reaction, message_edit, referral, optin, ...

    def render(self, message: dict, record: dict) -> list[dict]:
        lang = record_lang(record)
        text = "\n\n".join(x for x in (message.get("text", ""), sources_line(message, record, lang)) if x)
        buttons = message.get("buttons") or []
        quick_replies = None
        if buttons and self.numbers_buttons(buttons):
            text = "\n\n".join(x for x in (text, numbered(buttons, lang)) if x)
        elif buttons:
            quick_replies = [{"content_type": "text", "payload": _payload(b), "title": _title(b)} for b in buttons]
        out: list[dict] = [{"text": part} for part in (split_text(text, TEXT_LIMIT) if text else [])]
        if image := _picture(message.get("image"), record):
            out.append({"attachment": {"type": "image", "payload": {"url": image, "is_reusable": True}}})
        cards = message.get("cards") or []
        for start in range(0, len(cards), TEMPLATE_ELEMENTS):
            elements = [_element(card, record, lang) for card in cards[start:start + TEMPLATE_ELEMENTS]]
            out.append({"attachment": {"type": "template",
                                       "payload": {"template_type": "generic", "elements": elements}}})
        if quick_replies:
            if not out:
                out.append({"text": "…"})
            out[-1]["quick_replies"] = quick_replies
        recipient = {"id": record["address"]}
        return [{"recipient": recipient, "messaging_type": "RESPONSE", "message": m} for m in out]

    async def post(self, record: dict, payload: dict) -> None:
        kind = "text" if "text" in payload["message"] else payload["message"]["attachment"]["type"]
        await self.graph("me/messages", payload, what=f"messenger {kind}")


def _read(event: Inbound, message: dict) -> None:
    """The message's text, quick-reply payload or attachment into `event`."""
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    quick_reply = message.get("quick_reply") if isinstance(message.get("quick_reply"), dict) else {}
    if quick_reply.get("payload"):
        event.text = str(quick_reply["payload"])
        event.display = text or None
        return
    event.text = text
    attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
    if not attachments:
        return
    attachment = attachments[0]
    kind = attachment.get("type") or "unknown"
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    if kind == "location" and isinstance(coordinates := payload.get("coordinates"), dict):
        event.media = {"location": {"latitude": coordinates.get("lat"), "longitude": coordinates.get("long"),
                                    **({"name": attachment["title"]} if attachment.get("title") else {})}}
    elif kind == "image" and not payload.get("sticker_id"):
        event.media = {"image": {"url": payload.get("url")}}
    elif kind == "image":
        event.media = {"other": "sticker"}
    elif not text:  # a shared link comes as a "fallback" attachment beside the text: the text is enough
        event.media = {"other": kind, **({"url": payload["url"]} if payload.get("url") else {})}


def _title(button: dict) -> str:
    return clip(button["title"] or button["payload"], QUICK_REPLY_TITLE_LIMIT)


def _payload(button: dict) -> str:
    """A quick reply's payload: the button's payload when it fits, else its title."""
    payload, limit = button["payload"], QUICK_REPLY_PAYLOAD_LIMIT
    return payload if payload and len(payload) <= limit else (button["title"] or payload)[:limit]


def _element(card: dict, record: dict, lang: str) -> dict:
    """A product card as a generic template element: title, price and stock, picture, a link button."""
    price = " ".join(x for x in (card.get("price"), card.get("currency")) if x)
    element = {"title": clip(card["title"], ELEMENT_TEXT_LIMIT),
               "subtitle": clip(" · ".join(x for x in (price, card.get("subtitle")) if x), ELEMENT_TEXT_LIMIT)}
    if not element["subtitle"]:
        del element["subtitle"]
    if picture := _picture(card.get("image"), record):
        element["image_url"] = picture
    if link := absolute(card.get("url"), record):
        element["default_action"] = {"type": "web_url", "url": link}
        element["buttons"] = [{"type": "web_url", "url": link,
                               "title": clip("查看" if lang == "zh" else "View", BUTTON_TITLE_LIMIT)}]
    return element


def _picture(url: str | None, record: dict) -> str | None:
    """A picture Messenger shows: an absolute http(s) link, not SVG."""
    link = absolute(url, record)
    return link if link and not link.lower().split("?")[0].endswith(".svg") else None


def _seconds(timestamp) -> float:
    """Messenger's timestamps are in milliseconds."""
    try:
        return float(timestamp) / 1000
    except (TypeError, ValueError):
        return time.time()
