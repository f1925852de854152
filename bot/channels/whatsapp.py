"""WhatsApp Cloud API: GET + POST /webhooks/whatsapp.

Verified by X-Hub-Signature-256 (the Meta app's secret), and subscribed by
the hub.challenge handshake: bot/channels/meta.py.
Source: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components

Read: `messages` changes of a "whatsapp_business_account" object; each
message is one event, deduplicated by its id ("wamid...."). Its sender
(`from`, the wa_id) is the address, the business number it was written to
(`metadata.phone_number_id`) the number replies leave from. Types: text;
interactive replies (a reply button's or a list row's id is the payload,
its title the text shown); template quick-reply buttons; a location or an
image (its caption is the text); other media get the "text only" reply.
Ignored, and acknowledged: reactions, system messages, `statuses` (a
failed one is logged with Meta's error) and every other field.

Sent: POST /{phone-number-id}/messages. Texts split at 4,096 characters;
up to 3 buttons as reply buttons (titles at most 20 characters, ids 256),
4 to 10 as a list (row titles 24, descriptions 72), more as numbered
options in the text; an interactive message's body holds at most 1,024
characters, so a longer text goes first as plain text. Images (JPEG or
PNG by an absolute link) and product cards as an image with a caption, or
as text when the card has no picture WhatsApp can show.

Only within 24 hours of the shopper's last message (the customer-service
window; later a business must send a paid, approved template, which the
bot does not): outside it nothing is sent, and the failure is logged and
kept for the console. Meta's error 131047 ("re-engagement message") is
recorded the same way.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from aiohttp import web

from bot.channels.meta import MetaChannel
from bot.channels.webhooks import (
    Inbound,
    SendFailed,
    absolute,
    card_lines,
    clip,
    numbered,
    record_lang,
    sources_line,
    split_text,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # an interactive message's body, and an image's caption
REPLY_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
LIST_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
LIST_BUTTON_LIMIT = 20
SECTION_TITLE_LIMIT = 24
# Not a question: a shopper's emoji reaction, a number change, the first opening of the chat.
IGNORED_TYPES = ("reaction", "system", "request_welcome")


class WhatsAppChannel(MetaChannel):
    name = "whatsapp"
    title = "WhatsApp"
    object_type = "whatsapp_business_account"

    def numbers_buttons(self, buttons: list[dict]) -> bool:
        return _interactive(buttons, "en") is None  # more than 10, or titles that collide

    def parse(self, request: web.Request, body: bytes) -> list[Inbound]:
        events = []
        for entry in self.entries(body):
            for change in entry.get("changes") or []:
                if not isinstance(change, dict) or change.get("field") != "messages":
                    continue  # account_update, message_template_status_update, ...: acknowledged
                value = change.get("value") if isinstance(change.get("value"), dict) else {}
                events += self._messages(value)
                _log_failures(value)
        return events

    def _messages(self, value: dict) -> list[Inbound]:
        via = str((value.get("metadata") or {}).get("phone_number_id") or "")
        names = {c.get("wa_id"): (c.get("profile") or {}).get("name") or ""
                 for c in value.get("contacts") or [] if isinstance(c, dict)}
        events = []
        for message in value.get("messages") or []:
            if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
                continue
            if message.get("type") in IGNORED_TYPES:
                continue
            sender = str(message["from"])
            event = Inbound(self.name, str(message["id"]), sender, via=via,
                            name=names.get(sender) or (next(iter(names.values())) if len(names) == 1 else ""),
                            received_at=_seconds(message.get("timestamp")))
            _read(event, message)
            events.append(event)
        return events

    def render(self, message: dict, record: dict) -> list[dict]:
        lang = record_lang(record)
        to = record["address"]
        text = "\n\n".join(x for x in (message.get("text", ""), sources_line(message, record, lang)) if x)
        buttons = message.get("buttons") or []
        interactive = _interactive(buttons, lang) if buttons else None
        if buttons and interactive is None:
            text = "\n\n".join(x for x in (text, numbered(buttons, lang)) if x)
        parts = split_text(text, TEXT_LIMIT) if text else []
        out: list[dict] = []
        if interactive is not None:
            body = parts.pop() if parts else "…"
            if len(body) > BODY_LIMIT:  # the end goes with the buttons, the rest before them
                tail = split_text(body, BODY_LIMIT)[-1]
                parts.append(body[:body.rfind(tail)].strip())
                body = tail
            interactive["body"] = {"text": body}
        for part in parts:
            out.append(_send(to, "text", {"preview_url": False, "body": part}))
        if interactive is not None:
            out.append(_send(to, "interactive", interactive))
        if image := _picture(message.get("image"), record):
            out.append(_send(to, "image", {"link": image}))
        for card in message.get("cards") or []:
            lines = card_lines(card, record)
            if picture := _picture(card.get("image"), record):
                out.append(_send(to, "image", {"link": picture, "caption": lines[:BODY_LIMIT]}))
            else:
                out.append(_send(to, "text", {"preview_url": False, "body": lines[:TEXT_LIMIT]}))
        return out

    async def post(self, record: dict, payload: dict) -> None:
        phone_number_id = record.get("via")
        if not phone_number_id:
            raise SendFailed("no WhatsApp business number (phone_number_id) is known for this conversation")
        await self.graph(f"{quote(phone_number_id, safe='')}/messages", payload, what=f"whatsapp {payload['type']}")


def _read(event: Inbound, message: dict) -> None:
    """The message's text, payload or media into `event`."""
    kind = message.get("type")
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        event.text = body.get("body") or ""
    elif kind == "interactive" and isinstance(reply := body.get("button_reply") or body.get("list_reply"), dict):
        event.text = str(reply.get("id") or reply.get("title") or "")
        event.display = reply.get("title") or None
    elif kind == "button":  # a quick-reply button of a template message
        event.text = str(body.get("payload") or body.get("text") or "")
        event.display = body.get("text") or None
    elif kind == "location":
        event.media = {"location": {"latitude": body.get("latitude"), "longitude": body.get("longitude"),
                                    **{k: body[k] for k in ("name", "address") if body.get(k)}}}
    elif kind == "image":
        event.media = {"image": {"id": body.get("id"), **({"caption": body["caption"]} if body.get("caption") else {})}}
        event.text = body.get("caption") or ""
    else:  # audio, video, document, sticker, contacts, order, unsupported, an interactive flow reply, ...
        event.media = {"other": kind or "unknown", **({"id": body["id"]} if body.get("id") else {})}
        event.text = body.get("caption") or ""


def _log_failures(value: dict) -> None:
    """Meta reports some failures only later, in a status or an error of the change: logged."""
    for status in value.get("statuses") or []:
        if isinstance(status, dict) and status.get("status") == "failed":
            errors = "; ".join(f"{e.get('code')}: {e.get('title') or e.get('message')}"
                               for e in status.get("errors") or [] if isinstance(e, dict))
            log.error("whatsapp message %s to %s failed: %s", status.get("id"), status.get("recipient_id"),
                      errors or "no reason given")
    for error in value.get("errors") or []:
        if isinstance(error, dict):
            log.error("whatsapp webhook error %s: %s", error.get("code"), error.get("title") or error.get("message"))


def _interactive(buttons: list[dict], lang: str) -> dict | None:
    """Reply buttons (up to 3, distinct titles) or a list (up to 10) for
    `buttons`, without its body; None when they only fit as numbered text."""
    if len(buttons) <= REPLY_BUTTONS:
        replies = [{"type": "reply", "reply": {"id": _id(b, BUTTON_ID_LIMIT),
                                               "title": clip(b["title"] or b["payload"], BUTTON_TITLE_LIMIT)}}
                   for b in buttons]
        if _distinct(r["reply"]["title"] for r in replies) and _distinct(r["reply"]["id"] for r in replies):
            return {"type": "button", "action": {"buttons": replies}}
    if len(buttons) > LIST_ROWS:
        return None
    rows = []
    for b in buttons:
        label = b["title"] or b["payload"]
        row = {"id": _id(b, ROW_ID_LIMIT), "title": clip(label, ROW_TITLE_LIMIT)}
        if row["title"] != " ".join(label.split()):  # cut short: the whole title underneath
            row["description"] = clip(label, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    if not _distinct(r["id"] for r in rows):
        return None
    zh = lang == "zh"
    return {"type": "list",
            "action": {"button": clip("选择" if zh else "Choose", LIST_BUTTON_LIMIT),
                       "sections": [{"title": clip("选项" if zh else "Options", SECTION_TITLE_LIMIT), "rows": rows}]}}


def _id(button: dict, limit: int) -> str:
    """A button's id: its payload when it fits, else its title (which the pipeline reads the same way)."""
    payload = button["payload"]
    return payload if payload and len(payload) <= limit else (button["title"] or payload)[:limit]


def _distinct(values) -> bool:
    values = list(values)
    return len(set(values)) == len(values)


def _send(to: str, kind: str, content: dict) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind, kind: content}


def _picture(url: str | None, record: dict) -> str | None:
    """A picture WhatsApp shows: an absolute http(s) link, JPEG or PNG (not SVG, WebP or GIF)."""
    link = absolute(url, record)
    return link if link and not link.lower().split("?")[0].endswith((".svg", ".webp", ".gif")) else None


def _seconds(timestamp) -> float:
    try:
        return float(timestamp)
    except (TypeError, ValueError):
        return time.time()
