"""Telegram: POST /webhooks/telegram (Bot API webhooks).

Verified by the header X-Telegram-Bot-Api-Secret-Token, which Telegram
sends with every update once `setWebhook` was called with `secret_token`
(`shopkeep channels --set-telegram-webhook` does that); compared in constant time.
Source: https://core.telegram.org/bots/api#setwebhook

Read: `message` in private chats (text; "/start", which a Telegram client
sends when the shopper opens the bot, and "/help" are a greeting (`/greet`),
or `/start` and `/help` when the domain has those intents; a photo's caption; locations,
photos without caption, stickers and voice get the "text only" reply) and
`callback_query` (an inline keyboard button: its callback data is the
payload, its label the text shown). Ignored, and acknowledged:
`edited_message` (an edit of a message the bot already answered would
answer it twice; the shopper can send it again), group and channel chats,
and every other update type. Deduplicated by `update_id`.

Sent: `sendMessage` with an inline keyboard for buttons (one per row;
callback data is at most 64 bytes, so a longer payload sends the button's
label instead), `sendPhoto` for images and product cards with a picture,
texts split at 4,096 characters (a photo caption at 1,024).
"""

from __future__ import annotations

import hmac
import logging
import re
import time

from aiohttp import web

from bot.channels.base import ChannelError
from bot.channels.webhooks import (
    ApiClient,
    Inbound,
    MessagingChannel,
    absolute,
    card_lines,
    json_body,
    record_lang,
    refused,
    sources_line,
    split_text,
)
from bot.typedefs import models_key

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_BYTES = 64
ALLOWED_UPDATES = ["message", "callback_query"]
# Telegram's standard commands: /start, sent when the shopper opens the bot ("/start", "/start@shop_bot",
# "/start ref42"), and /help, in every bot's menu. Both get the greeting, which says what the bot does.
COMMAND = re.compile(r"^/(start|help)(@\w+)?(\s|$)", re.IGNORECASE)


def check(status: int, headers, body):
    """Telegram's answers: {"ok": true, "result"} or {"ok": false, "error_code", "description",
    "parameters": {"retry_after"}} (429 and 5xx are worth another try)."""
    if 200 <= status < 300 and isinstance(body, dict) and body.get("ok"):
        return body.get("result")
    description = body.get("description") if isinstance(body, dict) else str(body)[:300]
    after = (body.get("parameters") or {}).get("retry_after") if isinstance(body, dict) else None
    raise refused(status, headers, f"HTTP {status}: {description}", after_s=float(after) if after is not None else None)


def _button_data(button: dict) -> str:
    """Callback data for a button: its payload when it fits in 64 bytes, else its label (cut to fit)."""
    for value in (button["payload"], button["title"]):
        if value and len(value.encode()) <= CALLBACK_DATA_BYTES:
            return value
    return button["title"].encode()[:CALLBACK_DATA_BYTES].decode("utf-8", "ignore")


class TelegramChannel(MessagingChannel):
    name = "telegram"

    def _method(self, method: str) -> str:
        return f"{self.credentials.api_url}/bot{self.credentials.token}/{method}"

    def verify(self, request: web.Request, body: bytes) -> None:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise ChannelError(401, f"missing {SECRET_HEADER} header")
        if not hmac.compare_digest(given.encode(), self.credentials.secret.encode()):
            raise ChannelError(401, f"wrong {SECRET_HEADER}")

    def parse(self, request: web.Request, body: bytes) -> list[Inbound]:
        update = json_body(body)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise ChannelError(400, "a Telegram update is a JSON object with an integer 'update_id'")
        event_id = str(update["update_id"])
        if isinstance(update.get("message"), dict):
            return self._message(event_id, update["message"])
        if isinstance(update.get("callback_query"), dict):
            return self._callback(event_id, update["callback_query"])
        return []  # edited_message, channel_post, my_chat_member, ...: acknowledged, not answered

    def _message(self, event_id: str, message: dict) -> list[Inbound]:
        chat = message.get("chat") or {}
        if chat.get("type") != "private" or "id" not in chat:
            return []
        sender = message.get("from") or {}
        event = Inbound(self.name, event_id, str(chat["id"]), name=_name(sender),
                        received_at=float(message.get("date") or time.time()))
        if isinstance(message.get("text"), str):
            event.text = message["text"]
            if command := COMMAND.match(event.text):  # a greeting, unless the domain has that intent
                name = command.group(1).lower()
                intents = self.app[models_key].domain.intents
                event.text, event.display = (f"/{name}" if name in intents else "/greet"), event.text
        elif isinstance(message.get("location"), dict):
            location = message["location"]
            venue = message.get("venue") or {}
            event.media = {"location": {"latitude": location.get("latitude"), "longitude": location.get("longitude"),
                                        **({"name": venue["title"]} if venue.get("title") else {}),
                                        **({"address": venue["address"]} if venue.get("address") else {})}}
        elif isinstance(message.get("photo"), list) and message["photo"]:
            largest = message["photo"][-1]
            event.media = {"image": {"id": largest.get("file_id"),
                                     **({"caption": message["caption"]} if message.get("caption") else {})}}
            event.text = message.get("caption") or ""
        else:
            kind = next((k for k in ("sticker", "voice", "video", "audio", "document", "contact", "animation")
                         if k in message), "other")
            file_id = (message.get(kind) or {}).get("file_id") if isinstance(message.get(kind), dict) else None
            event.media = {"other": kind, **({"id": file_id} if file_id else {})}
            event.text = message.get("caption") or ""
        return [event]

    def _callback(self, event_id: str, query: dict) -> list[Inbound]:
        message = query.get("message") or {}
        chat = message.get("chat") or {}
        data = query.get("data")
        if chat.get("type") != "private" or "id" not in chat or not isinstance(data, str):
            return []
        title = next((b.get("text") for row in (message.get("reply_markup") or {}).get("inline_keyboard") or []
                      for b in row if isinstance(b, dict) and b.get("callback_data") == data), None)
        return [Inbound(self.name, event_id, str(chat["id"]), text=data, display=title,
                        name=_name(query.get("from") or {}), extra={"callback_query_id": query.get("id")})]

    async def before_turn(self, event: Inbound, paused: bool) -> None:
        """Stop the pressed button's spinner, and show "typing…" while the bot works (best effort;
        not while a person has the conversation: the bot stays silent then)."""
        calls = [] if paused else [("sendChatAction", {"chat_id": event.address, "action": "typing"})]
        if event.extra.get("callback_query_id"):
            calls.insert(0, ("answerCallbackQuery", {"callback_query_id": event.extra["callback_query_id"]}))
        for method, body in calls:
            try:
                async with self.api.session.post(self._method(method), json=body, timeout=self.api.timeout) as resp:
                    await resp.read()
            except Exception as exc:  # cosmetic: the answer still goes out
                log.debug("telegram %s failed: %s", method, exc)

    def render(self, message: dict, record: dict) -> list[dict]:
        lang = record_lang(record)
        chat_id = record["address"]
        text = "\n\n".join(x for x in (message.get("text", ""), sources_line(message, record, lang)) if x)
        out: list[dict] = []
        parts = split_text(text, TEXT_LIMIT) if text else []
        for part in parts:
            out.append({"method": "sendMessage", "chat_id": chat_id, "text": part,
                        "link_preview_options": {"is_disabled": True}})
        if message.get("buttons"):
            keyboard = {"inline_keyboard": [[{"text": b["title"][:64] or b["payload"][:64],
                                              "callback_data": _button_data(b)}] for b in message["buttons"]]}
            if not out:
                out.append({"method": "sendMessage", "chat_id": chat_id, "text": "…"})
            out[-1]["reply_markup"] = keyboard
        if image := _photo(message.get("image"), record):
            out.append({"method": "sendPhoto", "chat_id": chat_id, "photo": image})
        for card in message.get("cards") or []:
            caption = card_lines(card, record)[:CAPTION_LIMIT]
            link = absolute(card.get("url"), record)
            view = {"text": "查看" if lang == "zh" else "View", "url": link}
            markup = {"inline_keyboard": [[view]]} if link else None
            if photo := _photo(card.get("image"), record):
                payload = {"method": "sendPhoto", "chat_id": chat_id, "photo": photo, "caption": caption}
            else:
                payload = {"method": "sendMessage", "chat_id": chat_id, "text": caption,
                           "link_preview_options": {"is_disabled": True}}
            if markup:
                payload["reply_markup"] = markup
            out.append(payload)
        return out

    async def post(self, record: dict, payload: dict) -> None:
        body = {k: v for k, v in payload.items() if k != "method"}
        await self.api.call("POST", self._method(payload["method"]), json=body, check=check,
                            what=f"telegram {payload['method']}")


def _photo(url: str | None, record: dict) -> str | None:
    """A picture Telegram can fetch: an absolute http(s) URL, not SVG (sendPhoto takes JPEG, PNG, WebP)."""
    link = absolute(url, record)
    return link if link and not link.lower().split("?")[0].endswith(".svg") else None


def _name(user: dict) -> str:
    return " ".join(x for x in (user.get("first_name"), user.get("last_name")) if x) or user.get("username") or ""


async def set_webhook(api: ApiClient, credentials, url: str) -> str:
    """Point Telegram at `url` with the secret token; returns Telegram's description. Raises SendFailed."""
    await api.call("POST", f"{credentials.api_url}/bot{credentials.token}/setWebhook",
                   json={"url": url, "secret_token": credentials.secret, "allowed_updates": ALLOWED_UPDATES},
                   check=check, what="telegram setWebhook")
    return "Webhook was set"


async def webhook_info(api: ApiClient, credentials) -> dict:
    """Telegram's getWebhookInfo: {"url", "pending_update_count", "last_error_message"?, ...}."""
    return await api.call("GET", f"{credentials.api_url}/bot{credentials.token}/getWebhookInfo", check=check,
                          what="telegram getWebhookInfo")
