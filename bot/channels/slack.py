"""Slack: POST /webhooks/slack (the Events API and interactivity, one URL).

Verified by Slack's signing secret: X-Slack-Signature is "v0=" and the hex
HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<raw body>", compared in
constant time. A timestamp more than 5 minutes from now is refused (403)
before the signature is trusted, so a captured request cannot be replayed
later. Source: https://api.slack.com/authentication/verifying-requests-from-slack

Read, from JSON bodies: `url_verification` (the challenge is echoed, once the
request is verified) and `event_callback` with `message` in direct messages
(channel_type "im") and `app_mention` in channels. Slack's markup is turned
into plain text (`<@U1>`, `<#C1|name>`, `<https://x|label>`, &amp; &lt; &gt;;
a mention of the bot itself is dropped); files become media (an image or
"other"). From form bodies (`payload=<json>`): `block_actions`, a pressed
button, whose value is the payload and whose label the text shown.
Ignored, and acknowledged: anything a bot wrote (`bot_id`, or the app's own
bot user from `authorizations`), edits, deletions and other message
subtypes (an edit of a message the bot already answered would answer it
twice), channel messages that do not mention the bot, and every other event
type. Deduplicated by `event_id`, and a button press by its action_ts and
user, so a retry that carries X-Slack-Retry-Num for an event already
accepted is acknowledged and not handled again.

Addresses: a direct message's channel id ("D0123"); for a mention in a
channel, the channel and the thread to answer in ("C0123/1712345678.000100"),
so every thread is a conversation of its own and replies stay in it.

Sent: `chat.postMessage` with blocks: the text as mrkdwn sections (& < >
escaped, at most 3,000 characters each, one message per section), sources
as a context block, an image block, product cards as sections (title, price
and stock, a View link, the picture as accessory) and buttons in actions
blocks (25 per block, labels at most 75 characters, values at most 2,000),
at most 50 blocks per message, with a plain fallback `text` for
notifications. Slack answers HTTP 200 with {"ok": false, "error"} when it
refuses: "ratelimited" (or HTTP 429 with Retry-After) and 5xx are retried,
other errors (channel_not_found, not_in_channel, invalid_auth) are not.
Source: https://api.slack.com/methods/chat.postMessage
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from urllib.parse import parse_qs

from aiohttp import web

from bot.channels.base import ChannelError
from bot.channels.webhooks import (
    ApiClient,
    Inbound,
    MessagingChannel,
    absolute,
    check_timestamped_signature,
    clip,
    json_body,
    record_lang,
    refused,
    split_text,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
# Slack's own advice: refuse requests more than five minutes old (or ahead), against replays.
SECTION_LIMIT = 3000  # characters of text in a section block (and in any text object)
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
BUTTONS_PER_BLOCK = 25
MAX_BLOCKS = 50
IMAGE_URL_LIMIT = 3000
# Message subtypes a shopper writes; the others are edits, deletions, joins and bots' messages.
SHOPPER_SUBTYPES = (None, "file_share", "thread_broadcast", "me_message")
# {"ok": false} errors worth another try; the rest (channel_not_found, invalid_auth, ...) are not.
RETRY_ERRORS = ("ratelimited", "rate_limited", "service_unavailable", "internal_error")

_MARKUP = re.compile(r"<([^<>]*)>")
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^<>]*)?>")


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: "v0=" + hex HMAC-SHA256 of "v0:<timestamp>:<body>"."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def check(status: int, headers, body):
    """Slack's answers: HTTP 200 with {"ok": true, "channel", "ts"} or {"ok": false, "error",
    "response_metadata"?: {"messages"}}; HTTP 429 with Retry-After when rate limited."""
    if 200 <= status < 300 and isinstance(body, dict) and body.get("ok"):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    detail = error or (json.dumps(body) if isinstance(body, dict) else str(body))[:300]
    messages = ((body.get("response_metadata") or {}).get("messages") or []) if isinstance(body, dict) else []
    if messages:
        detail += f" ({'; '.join(str(m) for m in messages)[:300]})"
    raise refused(status, headers, f"HTTP {status}: {detail}", error, retryable=error in RETRY_ERRORS)


def escape(text: str) -> str:
    """Text for mrkdwn: Slack's three control characters escaped (nothing else is decoded)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(text: str, drop: frozenset[str] = frozenset()) -> str:
    """Slack's message markup as the plain text a shopper meant: <@U1|ana> -> @ana, <#C1|sales> -> #sales,
    <!here> -> @here, <https://x|label> -> label, <mailto:a@b.c|a@b.c> -> a@b.c; entities decoded.
    Mentions of the users in `drop` (the bot itself) are removed."""
    def replace(match: re.Match) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "" if target[1:] in drop else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        return label or target.removeprefix("mailto:")

    text = _MARKUP.sub(replace, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()  # where a dropped mention leaves two spaces


def sections(text: str) -> list[str]:
    """`text` escaped for mrkdwn, in parts of at most SECTION_LIMIT characters once escaped
    (cut where split_text cuts, before escaping, so an entity is never cut in two)."""
    text = text.strip()
    limit = SECTION_LIMIT
    while text:
        parts = [escape(p) for p in split_text(text, limit)]
        if all(len(p) <= SECTION_LIMIT for p in parts):
            return parts
        limit = limit * 3 // 4  # escaping grows a part at most fivefold: this ends by limit 600
    return []


def _link(url: str, label: str) -> str:
    """A mrkdwn link; "|", "<" and ">" in the URL would end it early, so they are percent-encoded."""
    url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    return f"<{url}|{escape(label)}>"


def _picture(url: str | None, record: dict) -> str | None:
    """A picture Slack can fetch and show: an absolute http(s) URL, not SVG (Slack takes PNG, JPEG, GIF)."""
    link = absolute(url, record)
    if not link or len(link) > IMAGE_URL_LIMIT or link.lower().split("?")[0].endswith(".svg"):
        return None
    return link


def _button(index: int, button: dict) -> dict:
    """A button: its payload as value when it fits in 2,000 characters, else its label."""
    value = button["payload"] if button["payload"] and len(button["payload"]) <= BUTTON_VALUE_LIMIT \
        else button["title"][:BUTTON_VALUE_LIMIT]
    return {"type": "button", "action_id": f"shopkeep-button-{index}", "value": value,
            "text": {"type": "plain_text", "text": clip(button["title"] or button["payload"], BUTTON_TEXT_LIMIT),
                     "emoji": True}}


def _sources(message: dict, record: dict, lang: str) -> str:
    """"Source: <link|Title>; Title" in mrkdwn, as many sources as fit in a text object."""
    items: list[str] = []
    for source in message.get("sources") or []:
        link = absolute(source.get("url"), record)
        title = clip(source["title"], 300)
        item = _link(link, title) if link else escape(title)
        if sum(len(x) + 2 for x in items) + len(item) > SECTION_LIMIT - 10:
            break
        items.append(item)
    return (("来源：" if lang == "zh" else "Source: ") + "; ".join(items)) if items else ""


def _card(card: dict, record: dict, lang: str) -> dict:
    """A product card: a section with the title, price and stock, a View link, and the picture beside it."""
    lines = [f"*{escape(clip(card['title'], 300))}*"]
    price = " ".join(x for x in (card.get("price"), card.get("currency")) if x)
    if details := " · ".join(x for x in (price, card.get("subtitle")) if x):
        lines.append(escape(clip(details, 300)))
    if link := absolute(card.get("url"), record):
        lines.append(_link(link, "查看" if lang == "zh" else "View"))
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:SECTION_LIMIT]}}
    if picture := _picture(card.get("image"), record):
        block["accessory"] = {"type": "image", "image_url": picture, "alt_text": clip(card["title"], 2000)}
    return block


def _form(body: bytes) -> dict:
    """An interactivity request's JSON `payload` field; ChannelError 400 when there is none."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChannelError(400, f"form body is not valid: {exc}") from None
    if not fields.get("payload"):
        raise ChannelError(400, "a Slack interactivity request has a 'payload' form field")
    payload = json_body(fields["payload"][0].encode())
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise ChannelError(400, "a Slack interaction payload is a JSON object with a 'type'")
    return payload


class SlackChannel(MessagingChannel):
    name = "slack"

    def verify(self, request: web.Request, body: bytes) -> None:
        # a stale timestamp is 403, as Slack's own verification answers it
        check_timestamped_signature(request, body, self.credentials.signing_secret, SIGNATURE_HEADER,
                                    TIMESTAMP_HEADER, signature, stale_status=403)

    def parse(self, request: web.Request, body: bytes) -> list[Inbound] | web.Response:
        if request.content_type == "application/x-www-form-urlencoded":
            return self._interaction(_form(body))
        envelope = json_body(body)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
            raise ChannelError(400, "a Slack request is a JSON object with a 'type'")
        if envelope["type"] == "url_verification":
            if not isinstance(envelope.get("challenge"), str):
                raise ChannelError(400, "a url_verification request has a string 'challenge'")
            return web.json_response({"challenge": envelope["challenge"]})
        if envelope["type"] != "event_callback":
            return []  # app_rate_limited and the like: acknowledged
        if not isinstance(envelope.get("event_id"), str) or not isinstance(envelope.get("event"), dict):
            raise ChannelError(400, "an event_callback has a string 'event_id' and an 'event' object")
        return self._event(envelope)

    def _event(self, envelope: dict) -> list[Inbound]:
        event = envelope["event"]
        bots = frozenset(a.get("user_id") for a in envelope.get("authorizations") or []
                         if isinstance(a, dict) and a.get("is_bot") and a.get("user_id"))
        user, channel = event.get("user"), event.get("channel")
        if (event.get("bot_id") or event.get("subtype") not in SHOPPER_SUBTYPES or not isinstance(user, str)
                or user in bots or not isinstance(channel, str)):
            return []  # the bot's own messages, other bots, edits, deletions, joins
        if event.get("type") == "message" and event.get("channel_type") == "im":
            address = channel
        elif event.get("type") == "app_mention":
            address = f"{channel}/{event.get('thread_ts') or event.get('ts')}"
        else:
            return []  # channel messages without a mention (app_mention brings those), other event types
        raw = event.get("text") or ""
        if event.get("type") == "app_mention" and not bots:  # no authorizations: the leading mention is the bot's
            raw = _LEADING_MENTION.sub("", raw)
        text = plain_text(raw, bots)
        profile = event.get("user_profile") or {}
        inbound = Inbound(self.name, envelope["event_id"], address, text=text, via=str(envelope.get("team_id") or ""),
                          name=profile.get("display_name") or profile.get("real_name") or "",
                          received_at=_seconds(event.get("ts"), envelope.get("event_time")))
        files = [f for f in event.get("files") or [] if isinstance(f, dict)]
        if files:
            first = files[0]
            if str(first.get("mimetype", "")).startswith("image/"):
                inbound.media = {"image": {"url": first.get("url_private") or first.get("permalink"),
                                           **({"caption": text} if text else {})}}
            else:
                inbound.media = {"other": first.get("filetype") or "file",
                                 **({"url": first["url_private"]} if first.get("url_private") else {})}
        return [inbound]

    def _interaction(self, payload: dict) -> list[Inbound]:
        if payload["type"] != "block_actions":
            return []  # view submissions, shortcuts: not used by the bot
        actions = [a for a in payload.get("actions") or [] if isinstance(a, dict)]
        user = (payload.get("user") or {}).get("id")
        channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
        if not actions or not isinstance(user, str) or not isinstance(channel, str):
            return []
        action = actions[0]
        value, action_ts = action.get("value"), action.get("action_ts")
        if action.get("type") != "button" or not isinstance(value, str) or not isinstance(action_ts, str):
            return []  # a link button opens its URL in Slack; nothing to answer
        # The bot's message carries the thread it was sent in: answer there too.
        thread_ts = (payload.get("message") or {}).get("thread_ts") or (payload.get("container") or {}).get("thread_ts")
        label = (action.get("text") or {}).get("text")
        member = payload.get("user") or {}
        return [Inbound(self.name, f"{action_ts}:{user}", f"{channel}/{thread_ts}" if thread_ts else channel,
                        text=value, display=label if label and label != value else None,
                        via=str((payload.get("team") or {}).get("id") or ""),
                        name=member.get("name") or member.get("username") or "",
                        received_at=_seconds(action_ts, None))]

    def acknowledge(self) -> web.Response:
        return web.Response(status=200)  # Slack reads nothing in it; a body would be shown for some interactions

    def render(self, message: dict, record: dict) -> list[dict]:
        lang = record_lang(record)
        channel, _, thread_ts = record["address"].partition("/")
        texts = sections(message.get("text", ""))
        messages = [[{"type": "section", "text": {"type": "mrkdwn", "text": part}}] for part in texts] or [[]]
        last = messages[-1]
        if sources := _sources(message, record, lang):
            last.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sources}]})
        if picture := _picture(message.get("image"), record):
            last.append({"type": "image", "image_url": picture, "alt_text": "图片" if lang == "zh" else "Image"})
        buttons = [_button(i, b) for i, b in enumerate(message.get("buttons") or [])]
        actions = [{"type": "actions", "elements": buttons[i:i + BUTTONS_PER_BLOCK]}
                   for i in range(0, len(buttons), BUTTONS_PER_BLOCK)]
        cards = [_card(card, record, lang) for card in message.get("cards") or []]
        room = MAX_BLOCKS - len(last) - len(actions)
        if len(cards) > room:
            log.warning("slack: %d product cards, only %d fit in one message", len(cards), room)
        last.extend(cards[:max(room, 0)])
        last.extend(actions)
        # The plain `text` shown in notifications: the section's text, else what the blocks show.
        titles = [c["title"] for c in message.get("cards") or []] + [b["title"] for b in message.get("buttons") or []]
        other = escape(clip(", ".join(titles), SECTION_LIMIT)) or ("图片" if lang == "zh" else "Image")
        out = []
        for n, blocks in enumerate(messages):
            if not blocks:
                continue
            fallback = texts[n] if n < len(texts) else other
            payload = {"channel": channel, "text": fallback, "blocks": blocks[:MAX_BLOCKS],
                       "unfurl_links": False, "unfurl_media": False}
            if thread_ts:
                payload["thread_ts"] = thread_ts
            out.append(payload)
        return out

    async def post(self, record: dict, payload: dict) -> None:
        await call(self.api, self.credentials, "chat.postMessage", payload)


def _seconds(ts, default) -> float:
    """A Slack timestamp ("1712345678.000100") as unix seconds; `default` or now when there is none."""
    for value in (ts, default):
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return time.time()


async def call(api: ApiClient, credentials, method: str, body: dict | None = None) -> dict:
    """One Slack Web API method with the bot token; returns Slack's answer. Raises SendFailed."""
    data = json.dumps(body or {}, ensure_ascii=False).encode()
    return await api.call("POST", f"{credentials.api_url}/{method}", data=data, check=check, what=f"slack {method}",
                          headers={"Authorization": f"Bearer {credentials.bot_token}",
                                   "Content-Type": "application/json; charset=utf-8"})
