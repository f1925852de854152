"""Chatwoot: POST /webhooks/chatwoot (an Agent Bot connected to the store's inboxes).

For a store that already runs Chatwoot as its agent inbox: the bot answers
shoppers in Chatwoot's conversations, and hands them to Chatwoot's agents.

Verified by the Agent Bot's webhook secret: X-Chatwoot-Signature is "sha256="
and the hex HMAC-SHA256 of "<X-Chatwoot-Timestamp>.<raw body>", compared in
constant time; a timestamp more than 5 minutes from now is refused, so a
captured request cannot be replayed later. Every refusal is 401.
Source: Chatwoot's Webhooks::Trigger (agent bot webhooks are signed since
chatwoot/chatwoot#13892).

Read: `message_created` with message_type "incoming" that is not private (a
shopper's message: its text, its first attachment as media), and
`message_updated` of the bot's own `input_select` message once the shopper
picked an option in the web widget (`content_attributes.submitted_values`:
the option's value is the payload, its title the text shown), as Chatwoot's
own bot integrations read it. Ignored, and acknowledged: outgoing messages
(the agents', and the bot's own, which Chatwoot sends back), private notes,
activity messages and every other event. Deduplicated by the message id.

Addresses: "<account id>:<conversation id>", so conversation ids are
"chatwoot:<account>:<conversation>".

Who answers follows the Chatwoot conversation's status:
  - "pending": the bot's. A conversation with an Agent Bot starts pending,
    and a resolved one that the shopper writes to again goes back to pending.
  - "open" (or "snoozed"): a person's. The bot stays silent: the message is
    kept in the transcript, no turn runs, nothing is sent.
  - When the bot's turn hands off (the session is paused for a person), the
    sender sets the conversation "open" (`toggle_status`, once per handoff,
    retried like a message) after the handoff reply, so Chatwoot's agents see
    it. Until that has been done, the bot stays silent as for any handoff.
  - A message on a pending conversation whose session is still handed off,
    written after the bot opened it, means the agents handed it back
    (Chatwoot: "mark as pending", or resolved then reopened): the session is
    resumed and the bot answers. A message written before the bot's
    toggle_status took effect carries "pending" too; it is told apart by its
    time, so it does not resume the session.

Sent (POST /api/v1/accounts/<a>/conversations/<c>/messages, header
api_access_token): text (split at 2,000 characters, the smallest limit of the
channels Chatwoot relays to that matters here) with its sources; buttons as an
`input_select` message on the web widget and API inboxes, the channels where
Chatwoot documents options for both sending and reading them back, and as
numbered text options elsewhere (a reply with the number chooses); an image or
a product card as text with its link (the API takes files, not links).
Retries on 429, 5xx and network errors through the shared ApiClient.
Sources: https://developers.chatwoot.com/api-reference/conversations/toggle-status,
https://www.chatwoot.com/hc/user-guide/articles/1677689344-how-to-use-interactive-messages
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime

from aiohttp import web
from redis.exceptions import RedisError

from bot.channels.base import ChannelError
from bot.channels.webhooks import (
    Inbound,
    MessagingChannel,
    SendFailed,
    absolute,
    card_lines,
    check_timestamped_signature,
    clip,
    json_body,
    media_text,
    numbered,
    record_lang,
    sources_line,
    split_text,
)
from bot.sessions.redis_client import SessionStoreUnavailable, unavailable
from bot.typedefs import assistant_key, config_key, redis_key

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"
TEXT_LIMIT = 2000
OPTION_TITLE_LIMIT = 80
# The Chatwoot conversation statuses in which a person has the conversation: the bot stays silent.
PERSON_STATUSES = ("open", "snoozed")
# The statuses of a conversation the agents gave back to the bot (resolved ones go back to pending).
BOT_STATUSES = ("pending", "resolved")
# Inboxes whose shoppers see input_select options and whose choices come back to the bot.
INPUT_SELECT_CHANNELS = ("Channel::WebWidget", "Channel::Api")
# A "pending" message written this soon after the bot opened the conversation may have been written
# before its toggle_status took effect (Chatwoot's clock against ours): not a hand-back.
STATUS_LAG_S = 5.0
CHOOSE = {"en": "Please choose:", "zh": "请选择："}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Chatwoot's webhook signature: "sha256=" + hex HMAC-SHA256 of "<timestamp>.<body>"."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _ident(value) -> str | None:
    """A Chatwoot id (a positive integer, or its digits) as a string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    return value if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _seconds(created_at) -> float:
    """A message's `created_at` (ISO 8601 or unix seconds) as unix seconds; now when there is none."""
    if isinstance(created_at, (int, float)) and not isinstance(created_at, bool):
        return float(created_at)
    if isinstance(created_at, str):
        try:
            return datetime.fromisoformat(created_at.replace(" UTC", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time()


def _media(attachments) -> dict:
    """The first attachment as Inbound media: an image, a location or another file."""
    first = next((a for a in attachments if isinstance(a, dict)), None) if isinstance(attachments, list) else None
    if first is None:
        return {}
    kind, url = str(first.get("file_type") or "file"), first.get("data_url")
    if kind == "image" and url:
        return {"image": {"url": url}}
    if kind == "location" and first.get("coordinates_lat") is not None:
        return {"location": {"latitude": first.get("coordinates_lat"), "longitude": first.get("coordinates_long"),
                             **({"name": first["fallback_title"]} if first.get("fallback_title") else {})}}
    return {"other": kind, **({"url": url} if url else {})}


def _options(record: dict) -> bool:
    """Whether the conversation's Chatwoot inbox shows buttons as input_select options."""
    return record.get("via") in INPUT_SELECT_CHANNELS


class ChatwootChannel(MessagingChannel):
    name = "chatwoot"
    may_number_buttons = True  # on inboxes without input_select options

    # -- receiving ------------------------------------------------------------

    def verify(self, request: web.Request, body: bytes) -> None:
        check_timestamped_signature(request, body, self.credentials.webhook_secret, SIGNATURE_HEADER,
                                    TIMESTAMP_HEADER, signature,
                                    missing_hint=" (is the Agent Bot's webhook secret set in Chatwoot?)")

    def parse(self, request: web.Request, body: bytes) -> list[Inbound]:
        payload = json_body(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            raise ChannelError(400, "a Chatwoot webhook is a JSON object with an 'event'")
        event, kind = payload["event"], payload.get("message_type")
        if payload.get("private") is True:
            return []  # an agent's private note
        if event == "message_created" and kind == "incoming":
            inbound = self._message(payload)
            inbound.text = payload["content"] if isinstance(payload.get("content"), str) else ""
            inbound.media = _media(payload.get("attachments"))
            return [inbound]
        if event == "message_updated" and kind == "outgoing" and payload.get("content_type") == "input_select":
            chosen = (payload.get("content_attributes") or {}).get("submitted_values")
            choice = chosen[0] if isinstance(chosen, list) and chosen and isinstance(chosen[0], dict) else None
            if choice is None or not (choice.get("value") or choice.get("title")):
                return []  # the bot's options message, updated for another reason (delivered, read)
            inbound = self._message(payload)
            inbound.event_id += ":chosen"  # (the message's own id was the bot's message)
            value, title = str(choice.get("value") or choice.get("title")), str(choice.get("title") or "")
            inbound.text, inbound.display = value, (title if title and title != value else None)
            inbound.name = ""  # the options message's sender is the bot
            return [inbound]
        return []  # outgoing and activity messages, conversation events, webwidget_triggered, ...

    def _message(self, payload: dict) -> Inbound:
        """The Inbound for a message event, without its text: ids, the conversation's status and inbox."""
        conversation = payload.get("conversation") if isinstance(payload.get("conversation"), dict) else {}
        account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
        message_id, account_id = _ident(payload.get("id")), _ident(account.get("id"))
        conversation_id = _ident(conversation.get("id"))
        if not (message_id and account_id and conversation_id):
            raise ChannelError(400, "a Chatwoot message event has an integer 'id', 'conversation.id' and 'account.id'")
        sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
        return Inbound(self.name, message_id, f"{account_id}:{conversation_id}",
                       via=str(conversation.get("channel") or ""), name=str(sender.get("name") or ""),
                       received_at=_seconds(payload.get("created_at")),
                       extra={"status": str(conversation.get("status") or "")})

    # -- who answers ------------------------------------------------------------

    async def process(self, event: Inbound) -> None:
        status = event.extra.get("status")
        if status in PERSON_STATUSES:
            await self._keep_for_a_person(event)
            return
        if status in BOT_STATUSES:
            await self._resume_if_handed_back(event)
        await super().process(event)

    async def _keep_for_a_person(self, event: Inbound) -> None:
        """A person has the conversation in Chatwoot: the message goes into the transcript (for the
        console and the bot's later context), and nothing is answered."""
        conversation_id = event.conversation_id
        previous = await self.outbox.record(conversation_id) or {}
        await self.open_record(event, previous.get("lang", ""))
        shown = event.display or " ".join(x for x in (media_text(event.media) if event.media else "", event.text) if x)
        if shown.strip():
            await self.outbox.deliver(conversation_id, [{"text": shown}], role="user",
                                      keys=[f"user:{event.event_id}"], client_id=event.event_id)
        await self.flush(conversation_id)  # (a toggle_status that failed before is tried again)

    def _opened_key(self, conversation_id: str) -> str:
        return f"{self.app[config_key].sessions.key_prefix}:chatwoot-opened:{conversation_id}"

    async def _opened(self, conversation_id: str) -> dict | None:
        """{"since": the handoff's start, "at": when the bot set the Chatwoot conversation open}, or None."""
        try:
            raw = await self.app[redis_key].get(self._opened_key(conversation_id))
        except RedisError as exc:
            raise unavailable("read the conversation's Chatwoot status", exc) from exc
        return json.loads(raw) if raw else None

    async def _resume_if_handed_back(self, event: Inbound) -> None:
        """The agents handed the conversation back in Chatwoot (it is the bot's again while the
        session is still handed off): resume the session, so this message gets an answer.

        Through the handoff console's hand-back (bot/console/desk.py), which also closes its record."""
        conversation_id = event.conversation_id
        opened = await self._opened(conversation_id)
        if opened is None or event.received_at < float(opened.get("at", 0)) + STATUS_LAG_S:
            return  # the bot never opened it in Chatwoot, or the message was written before it did
        # the console's hand-back: the session resumes (under the conversation's lock) and the desk's
        # record of the handoff is closed, only if it is still the handoff the bot opened in Chatwoot
        if not await self.app[assistant_key].desk.hand_back(conversation_id, "chatwoot", resolve=True,
                                                             since=opened.get("since")):
            return  # resumed otherwise since, or handed off again (and not yet opened in Chatwoot)
        try:
            await self.app[redis_key].delete(self._opened_key(conversation_id))
        except RedisError as exc:  # harmless: the next handoff has another "since"
            log.warning("conversation %s: %s not deleted: %s", conversation_id, self._opened_key(conversation_id), exc)
        log.info("conversation %s: handed back to the bot in Chatwoot; the bot answers again", conversation_id)

    # -- sending ------------------------------------------------------------------

    async def flush(self, conversation_id: str) -> None:
        """Send what is new (the base's flush), then, when the session is handed off and the bot has
        not yet opened the Chatwoot conversation for this handoff, open it for the agents."""
        await super().flush(conversation_id)
        await self._open_for_agents(conversation_id)

    async def _open_for_agents(self, conversation_id: str) -> None:
        """toggle_status "open" once per handoff (a SendFailed is logged; the next flush tries again)."""
        sessions = self.app[assistant_key].sessions
        if not await sessions.handed_off(conversation_id):
            return
        handoff = (await sessions.load(conversation_id)).handoff or {}
        opened = await self._opened(conversation_id)
        if opened is not None and opened.get("since") == handoff.get("since"):
            return
        record = await self.outbox.record(conversation_id)
        if record is None:
            return
        try:
            await self.api.call("POST", self._url(record, "toggle_status"), json={"status": "open"},
                                headers=self._headers, what="chatwoot toggle_status")
        except SendFailed as exc:
            log.error("conversation %s: not opened for Chatwoot's agents (%s); tried again with the next message",
                      conversation_id, exc)
            return
        state = json.dumps({"since": handoff.get("since"), "at": time.time()})
        try:
            await self.app[redis_key].set(self._opened_key(conversation_id), state,
                                          ex=self.app[config_key].sessions.ttl_s)
        except RedisError as exc:
            raise unavailable("remember the conversation's Chatwoot status", exc) from exc
        log.info("conversation %s: opened in Chatwoot for a person", conversation_id)

    @property
    def _headers(self) -> dict:
        return {"api_access_token": self.credentials.bot_token}

    def _url(self, record: dict, action: str) -> str:
        account, _, conversation = record["address"].partition(":")
        return f"{self.credentials.api_url}/api/v1/accounts/{account}/conversations/{conversation}/{action}"

    def numbers_buttons(self, buttons: list[dict]) -> bool:
        return True  # where buttons are shown as numbers at all (see _remember_options)

    async def _remember_options(self, conversation_id: str, entries: list[dict]) -> None:
        """Numbered options are remembered only for inboxes that get them as text: where they are
        input_select options, a later "2" is just "2"."""
        try:
            record = await self.outbox.record(conversation_id) or {}
        except SessionStoreUnavailable as exc:  # the replies still go out, as when remembering fails
            log.warning("conversation %s: numbered options not remembered: %s", conversation_id, exc)
            return
        await super()._remember_options(conversation_id, [] if _options(record) else entries)

    def render(self, message: dict, record: dict) -> list[dict]:
        lang = record_lang(record)
        buttons = message.get("buttons") or []
        options = bool(buttons) and _options(record)
        text = "\n\n".join(x for x in (message.get("text", ""), sources_line(message, record, lang),
                                       numbered(buttons, lang) if buttons and not options else "") if x)
        out = [{"content": part} for part in (split_text(text, TEXT_LIMIT) if text else [])]
        if options:
            items = [{"title": clip(b["title"] or b["payload"], OPTION_TITLE_LIMIT),
                      "value": b["payload"] or b["title"]} for b in buttons]
            last = out.pop()["content"] if out else CHOOSE[lang]
            out.append({"content": last, "content_type": "input_select", "content_attributes": {"items": items}})
        if image := absolute(message.get("image"), record):
            out.append({"content": image})
        for card in message.get("cards") or []:
            out.append({"content": card_lines(card, record)[:TEXT_LIMIT]})
        return [{**payload, "message_type": "outgoing", "private": False} for payload in out]

    async def post(self, record: dict, payload: dict) -> None:
        await self.api.call("POST", self._url(record, "messages"), json=payload, headers=self._headers,
                            what="chatwoot message")
