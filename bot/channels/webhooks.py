"""What the messaging webhooks share (Telegram, WhatsApp, Messenger, Slack,
Twilio): one adapter file per platform, each a `MessagingChannel`.

    POST /webhooks/<platform>
      1. verify   the platform's signature or secret on the raw body, before
                  anything is parsed (401 or 403: nothing is read or stored)
      2. parse    the body into `Inbound` events: text, a button's payload, a
                  location or an image, normalised (400 for malformed JSON)
      3. accept   the new events into the inbox, a Redis stream; an event id
                  seen within `dedupe_ttl_s` adds nothing (one Lua script).
                  Redis away: 503, so the platform delivers again later
      4. acknowledge at once (200)
    then, in whichever server process reads the inbox next (`Inbox`):
      5. the turn (bot/channels/turns.py): transcript, pipeline, replies
         delivered through the outbound path, whose sender for the platform
         renders each message natively and calls the platform's send API
         (`ApiClient`: retries on 429, 5xx and network errors with backoff,
         honours Retry-After, gives up after `send_attempts` with a logged
         error, and the failure is kept for the handoff console).

An event stays in the inbox until its turn has run: a process that dies
mid-turn leaves it to another after `reclaim_after_s`, and the turn's
message id makes that rerun deliver nothing twice.

Conversation ids are "<platform>:<address>" ("telegram:123456789").
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar

import aiohttp
import redis.asyncio as redis
from aiohttp import web
from redis.exceptions import LockError, RedisError, ResponseError
from tenacity import RetryCallState

from bot.channels.base import TURN_ERRORS, ChannelError, error_response
from bot.channels.outbound import API, Outbox
from bot.channels.turns import run_turn
from bot.sessions.lock import LockTimeout
from bot.sessions.redis_client import SessionStoreUnavailable, unavailable
from bot.typedefs import assistant_key, config_key, outbox_key, redis_key
from knowledge.retrying import retry_after, retrying
from lm.language import detect_language, has_chinese

log = logging.getLogger(__name__)

INBOX_GROUP = "turns"
INBOX_MAXLEN = 100_000
STOP_WAIT_S = 10.0  # on shutdown, how long running turns may finish (the rest are rerun by the next process)

# What a message the bot cannot read (a photo without a caption, a location, a sticker) gets.
MEDIA_REPLY = {
    "en": "I can only read text, so I can't see photos, locations or voice messages. Please tell me in words "
          "what you need, or write \"person\" to talk to someone from our team.",
    "zh": "我目前只能阅读文字，看不到图片、位置或语音。请用文字告诉我您需要什么，或输入“人工”联系我们的团队。",
}


@dataclass
class Inbound:
    """One shopper event from a platform, normalised.

    `text` is what the pipeline reads: the message, or a button's payload.
    `display` is what the transcript shows when that differs (the button's
    title). `media` holds what is not text: {"location": {"latitude",
    "longitude", "name"?, "address"?}} or {"image": {"url"|"id", "caption"?}}
    or {"other": type, "url"|"id"?}; an event with media and no text gets MEDIA_REPLY."""
    platform: str
    event_id: str  # the platform's id for this event (deduplication)
    address: str  # where replies go: chat id, phone number, page-scoped id, Slack channel
    text: str = ""
    display: str | None = None
    via: str = ""  # the store's own account written to: phone number id, page id, Twilio number, Slack team
    name: str = ""  # the shopper's display name, when the platform gives one
    media: dict = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)  # the platform's timestamp, unix seconds
    extra: dict = field(default_factory=dict)  # what the adapter needs after the turn (Telegram's callback id)

    @property
    def conversation_id(self) -> str:
        return f"{self.platform}:{self.address}"


def json_body(body: bytes) -> Any:
    """The parsed JSON body; ChannelError 400 when it is not JSON."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ChannelError(400, f"body is not valid JSON: {exc}") from None


MAX_SKEW_S = 300  # a timestamped signature older or newer than this is refused (Slack's advice: 5 minutes)


def check_timestamped_signature(request: web.Request, body: bytes, secret: str, signature_header: str,
                                timestamp_header: str, sign: Callable[[str, str, bytes], str],
                                stale_status: int = 401, missing_hint: str = "") -> None:
    """Verify a platform's signature over a timestamp and the body (Slack, Chatwoot): both headers
    present, the timestamp a number within MAX_SKEW_S of now (no replays), and `sign(secret, timestamp,
    body)` equal to the signature (compared in constant time). ChannelError 401 otherwise (a stale
    timestamp: `stale_status`)."""
    given, timestamp = request.headers.get(signature_header), request.headers.get(timestamp_header)
    if given is None or timestamp is None:
        raise ChannelError(401, f"missing {signature_header} or {timestamp_header} header{missing_hint}")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise ChannelError(401, f"{timestamp_header} is not a number of seconds")
    if abs(time.time() - int(timestamp)) > MAX_SKEW_S:
        raise ChannelError(stale_status, f"{timestamp_header} is more than {MAX_SKEW_S} s from now (a replay?)")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), sign(secret, timestamp, body).encode()):
        raise ChannelError(401, f"wrong {signature_header}")


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at a paragraph, a
    line, a sentence or a word where there is one in the last half of a part."""
    parts = []
    text = text.strip()
    while len(text) > limit:
        window = text[:limit]
        cut = -1
        for separator in ("\n\n", "\n", ". ", "。", "! ", "? ", "；", "; ", ", ", "，", " "):
            at = window.rfind(separator)
            if at >= limit // 2:
                cut = at + len(separator)
                break
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        parts.append(text)
    return parts


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def absolute(url: str | None, record: dict) -> str | None:
    """A link the shopper can open from a messaging app: http(s) as it is; a
    path on the bot (a source page) joined to the bot's public address."""
    if not url:
        return None
    if url.startswith(("http://", "https://")):
        return url
    base = record.get("base_url") or ""
    return f"{base.rstrip('/')}/{url.lstrip('/')}" if base and url.startswith("/") else None


def sources_line(message: dict, record: dict, lang: str = "en") -> str:
    """"Source: Title (https://...)" for a knowledge answer's sources, or ""."""
    sources = message.get("sources") or []
    if not sources:
        return ""
    items = []
    for source in sources:
        link = absolute(source.get("url"), record)
        items.append(f"{source['title']} ({link})" if link else source["title"])
    return ("来源：" if lang == "zh" else "Source: ") + "; ".join(items)


def card_lines(card: dict, record: dict) -> str:
    """A product card as plain text: title, price and stock, link."""
    lines = [card["title"]]
    price = " ".join(x for x in (card.get("price"), card.get("currency")) if x)
    lines.append(" · ".join(x for x in (price, card.get("subtitle")) if x))
    if link := absolute(card.get("url"), record):
        lines.append(link)
    return "\n".join(line for line in lines if line)


def numbered(buttons: list[dict], lang: str = "en") -> str:
    """Buttons as plain numbered options: "Reply with a number:\n1. Yes\n2. No"."""
    head = "回复数字选择：" if lang == "zh" else "Reply with a number:"
    return "\n".join([head, *(f"{i}. {b['title']}" for i, b in enumerate(buttons, 1))])


def media_text(media: dict) -> str:
    """What the transcript shows for a message that is not text, so that a
    person can find it: "[image: https://...]" or "[image: id AgAC...]" (the
    platform's media id, to fetch with its API), "[location: 51.5, -0.12,
    Baker St 1]", "[voice]"."""
    if location := media.get("location"):
        where = ", ".join(str(x) for x in (location.get("latitude"), location.get("longitude"), location.get("name"),
                                           location.get("address")) if x not in (None, ""))
        return f"[location: {where}]"
    kind, details = ("image", media["image"]) if media.get("image") is not None else (media.get("other"), media)
    reference = details.get("url") or (f"id {details['id']}" if details.get("id") else "")
    return f"[{kind or 'empty message'}: {reference}]" if reference else f"[{kind or 'empty message'}]"


def record_lang(record: dict) -> str:
    return "zh" if record.get("lang") == "zh" else "en"


# A reply that is only a number ("2", " 2. ", "2)"): a choice among numbered options.
CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")

# WhatsApp and Messenger (also WhatsApp through Twilio) take free-form messages only within 24 hours
# of the shopper's last message; later, only paid, pre-approved templates.
# Source: https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows
WINDOW_S = 24 * 3600
WINDOW_CLOSED = "outside the 24-hour customer-service window"


def customer_service_window(record: dict, now: float | None = None) -> str | None:
    """Why a free-form message may not be sent to the shopper in `record`
    now: their last message ("last_inbound_at", unix seconds) is more than
    24 hours old, or there is none. None while the window is open."""
    try:
        last = float(record.get("last_inbound_at") or "")
    except ValueError:
        return f"{WINDOW_CLOSED}: the shopper has not written yet"
    age = (time.time() if now is None else now) - last
    if age > WINDOW_S:
        return f"{WINDOW_CLOSED}: the shopper last wrote {age / 3600:.0f} hours ago"
    return None


# -- calling a platform's API ------------------------------------------------


class SendFailed(Exception):
    """A platform's API did not take a message, after retrying what can be retried."""

    def __init__(self, message: str, status: int | None = None, code: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code


class Retryable(SendFailed):
    """A failure worth another try (429, 5xx, a network error), after `retry_after_s` if the platform said."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None, code: Any = None):
        super().__init__(message, status, code)
        self.retry_after_s = retry_after_s


# check(status, headers, body) -> raise Retryable / SendFailed, or return the result
Check = Callable[[int, Any, Any], Any]


def refused(status: int, headers, detail: str, code: Any = None, retryable: bool = False,
            after_s: float | None = None) -> SendFailed:
    """What a send API's refusal raises, for every platform's `check`: Retryable
    for 429, 5xx or a refusal the platform marks as passing (`retryable`), after
    `after_s` when the body said how long, else the Retry-After header;
    SendFailed otherwise. `detail` is "HTTP <status>: ..."."""
    if status == 429 or status >= 500 or retryable:
        return Retryable(detail, status, after_s if after_s is not None else retry_after(headers), code=code)
    return SendFailed(detail, status, code)


def default_check(status: int, headers, body) -> Any:
    """2xx: the body; 429 and 5xx: Retryable (with Retry-After); other: SendFailed."""
    if 200 <= status < 300:
        return body
    detail = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    raise refused(status, headers, f"HTTP {status}: {detail[:300]}")


class ApiClient:
    """HTTP calls to the platforms' send APIs, retried with tenacity:
    exponential backoff with jitter (0.5 s, 1 s, 2 s, ... at most
    `max_wait_s`), or the platform's Retry-After when it gives one; at most
    `attempts` tries. A Retry-After longer than `max_wait_s` gives up at once.
    Raises SendFailed when the message was not taken."""

    def __init__(self, session: aiohttp.ClientSession, attempts: int = 5, max_wait_s: float = 60.0,
                 timeout_s: float = 10.0):
        self.session = session
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def call(self, method: str, url: str, *, check: Check = default_check, what: str = "send",
                   **kwargs) -> Any:
        """One API call with retries; `kwargs` go to aiohttp (json=, data=, headers=, auth=, params=).
        Returns what `check` returns for the answer (the parsed body by default)."""
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception()
            log.warning("%s %s: %s; try %d of %d in %.1f s", what, _safe(url), exc, state.attempt_number,
                        self.attempts, state.upcoming_sleep)

        try:
            async for attempt in retrying(Retryable, self.attempts, self.max_wait_s, before_sleep=before_sleep):
                with attempt:
                    return await self._once(method, url, check, kwargs)
        except Retryable as exc:
            if (exc.retry_after_s or 0) > self.max_wait_s:
                raise SendFailed(f"{exc} (asked to wait {exc.retry_after_s:.0f} s, more than the "
                                 f"{self.max_wait_s:.0f} s allowed)", exc.status, exc.code) from None
            raise SendFailed(f"{exc} (gave up after {self.attempts} tries)", exc.status, exc.code) from None

    async def _once(self, method: str, url: str, check: Check, kwargs: dict) -> Any:
        try:
            async with self.session.request(method, url, timeout=self.timeout, **kwargs) as response:
                raw = await response.read()
                try:
                    body = json.loads(raw) if raw else {}
                except (json.JSONDecodeError, UnicodeDecodeError):
                    body = raw.decode("utf-8", "replace")
                return check(response.status, response.headers, body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None


def _safe(url: str) -> str:
    """A URL for the log, without a Telegram bot token in its path."""
    return url.split("/bot", 1)[0] + "/bot***/" + url.rsplit("/", 1)[-1] if "/bot" in url else url


# -- the inbox ------------------------------------------------------------------

# KEYS: inbox stream, then per event its "seen" key and its conversation's order list. ARGV: dedupe TTL
# (s), stream max length, then per event its JSON and its id. Returns 1 for each event added, 0 for one
# seen before. The order list holds a conversation's accepted event ids in arrival order: whichever
# process runs an event waits until the events before it are done, so answers keep the shopper's order.
_ACCEPT = """
local added = {}
for i = 2, #KEYS, 2 do
  local n = i / 2
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[2 * n + 1])
    redis.call('RPUSH', KEYS[i + 1], ARGV[2 * n + 2])
    redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
    added[#added + 1] = 1
  else
    added[#added + 1] = 0
  end
end
return added
"""
ORDER_POLL_S = (0.01, 0.2)  # how often an event waiting for an earlier one looks again: first, at most


class Inbox:
    """Accepted webhook events waiting for their turn, in a Redis stream read
    by a consumer group: each event is handled by one server process, and one
    whose process died is taken over by another after `reclaim_after_s`."""

    def __init__(self, client: redis.Redis, prefix: str, handle: Callable[[Inbound], Any], dedupe_ttl_s: int,
                 concurrency: int = 16, reclaim_after_s: float = 120.0):
        self.client = client
        self.prefix = prefix
        self.key = f"{prefix}:inbox"
        self.handle = handle
        self.dedupe_ttl_s = dedupe_ttl_s
        self.concurrency = concurrency
        self.reclaim_after_s = reclaim_after_s
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._accept = client.register_script(_ACCEPT)
        self._running: set[asyncio.Task] = set()
        # one conversation's events run in arrival order: its lock, and how many of its events hold or wait for it
        self._order: dict[str, list] = {}
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def accept(self, events: list[Inbound]) -> list[Inbound]:
        """Add the events not seen before; returns them. Raises SessionStoreUnavailable."""
        if not events:
            return []
        keys, args = [self.key], [self.dedupe_ttl_s, INBOX_MAXLEN]
        for e in events:
            keys += [f"{self.prefix}:webhook-seen:{e.platform}:{e.event_id}", self._order_key(e)]
            args += [json.dumps(asdict(e), ensure_ascii=False), e.event_id]
        try:
            added = await self._accept(keys=keys, args=args)
        except RedisError as exc:
            raise unavailable("accept the webhook event", exc) from exc
        return [e for e, new in zip(events, added) if new]

    def _order_key(self, event: Inbound) -> str:
        return f"{self.prefix}:inbox-order:{event.conversation_id}"

    async def _wait_for_earlier(self, event: Inbound) -> None:
        """Return once the conversation's events accepted before this one are done (in any process).
        One whose process died is rerun after `reclaim_after_s`; past that and a minute more, this
        one goes ahead anyway (logged)."""
        key, delay = self._order_key(event), ORDER_POLL_S[0]
        deadline = time.monotonic() + self.reclaim_after_s + 60
        while (position := await self.client.lpos(key, event.event_id)) not in (None, 0):
            if time.monotonic() > deadline:
                log.warning("conversation %s: event %s goes ahead of %d earlier one(s) that are not done",
                            event.conversation_id, event.event_id, position)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, ORDER_POLL_S[1])

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._consume(), name="webhook-inbox")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)
            self._task = None
        if self._running:
            await asyncio.wait(set(self._running), timeout=STOP_WAIT_S)
        unfinished = [getattr(task, "entry_id") for task in self._running if hasattr(task, "entry_id")]
        if unfinished:  # marked as long idle, so the next process to start (or any running one) takes them at once
            try:
                await self.client.xclaim(self.key, INBOX_GROUP, self.consumer, 0, unfinished,
                                         idle=int(self.reclaim_after_s * 1000) + 1000, justid=True)
                log.warning("%s: %d unfinished at shutdown, left for another process", self.key, len(unfinished))
            except RedisError as exc:
                log.warning("%s: %d unfinished at shutdown, taken over after %.0f s (%s)", self.key,
                            len(unfinished), self.reclaim_after_s, exc)

    async def _ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.key, INBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self) -> None:
        backoff, next_reclaim = 0.1, 0.0
        while not self._stopping:
            try:
                await self._ensure_group()
                while not self._stopping:
                    free = self.concurrency - len(self._running)
                    if free <= 0:
                        await asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)
                        continue
                    if time.monotonic() >= next_reclaim:
                        next_reclaim = time.monotonic() + min(30.0, self.reclaim_after_s / 2)
                        _, rows, *_ = await self.client.xautoclaim(self.key, INBOX_GROUP, self.consumer,
                                                                    int(self.reclaim_after_s * 1000), "0-0",
                                                                    count=free)
                        if rows:
                            log.warning("webhook inbox: taking over %d event(s) another process left unfinished",
                                        len(rows))
                    else:
                        reply = await self.client.xreadgroup(INBOX_GROUP, self.consumer, {self.key: ">"},
                                                             count=free, block=1000)
                        rows = reply[0][1] if reply else []
                    for entry_id, fields in rows:
                        if fields:  # (an entry trimmed away while pending comes back empty)
                            self._spawn(entry_id, fields)
                        else:
                            await self.client.xack(self.key, INBOX_GROUP, entry_id)
                    backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self._stopping:
                    return
                log.warning("webhook inbox: cannot read from Redis (%s: %s); retrying in %.1f s",
                            type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _spawn(self, entry_id, fields: dict) -> None:
        event = Inbound(**json.loads(fields[b"event"]))
        order = self._order.setdefault(event.conversation_id, [asyncio.Lock(), 0])
        order[1] += 1
        task = asyncio.create_task(self._run(entry_id, event, order), name=f"webhook-{event.conversation_id}")
        task.entry_id = entry_id  # for stop(): what is left unfinished
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, entry_id, event: Inbound, order: list) -> None:
        try:
            async with order[0]:  # in this process, in arrival order; across processes, _wait_for_earlier
                try:
                    await self._wait_for_earlier(event)
                except RedisError as exc:
                    raise unavailable("read the conversation's order", exc) from exc
                await self.handle(event)
        except (SessionStoreUnavailable, LockTimeout) as exc:
            # left pending: another try after reclaim_after_s, when Redis or the conversation is free again
            log.error("conversation %s: event %s not handled yet (%s); it will be tried again",
                      event.conversation_id, event.event_id, exc)
            return
        except Exception:
            log.exception("conversation %s: event %s failed", event.conversation_id, event.event_id)
        finally:
            order[1] -= 1
            if not order[1]:
                self._order.pop(event.conversation_id, None)
        # (if this fails, a rerun after reclaim delivers nothing twice)
        await self._done(entry_id, f"event {event.event_id}", order=(self._order_key(event), event.event_id))

    async def _done(self, entry_id, what: str, order: tuple[str, str] | None = None) -> None:
        """Take a handled entry out of the stream (and its id out of its conversation's order list)."""
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xack(self.key, INBOX_GROUP, entry_id)
                pipe.xdel(self.key, entry_id)
                if order is not None:
                    pipe.lrem(order[0], 1, order[1])
                await pipe.execute()
        except RedisError as exc:
            log.warning("%s: cannot mark %s done (%s)", self.key, what, exc)


class UnsentQueue(Inbox):
    """Conversations with messages that the process that delivered them could not
    send (a script or a console with no sender for the platform: `Outbox.deliver`
    queues them in {prefix}:outbox-unsent). One server process takes each and
    sends what is new in the conversation (`flush`, which keeps the order and
    never sends twice)."""

    def __init__(self, client: redis.Redis, prefix: str, flush: Callable[[str], Any], unsent_key: str,
                 concurrency: int = 16, reclaim_after_s: float = 120.0):
        super().__init__(client, prefix, flush, dedupe_ttl_s=0, concurrency=concurrency,
                         reclaim_after_s=reclaim_after_s)
        self.key = unsent_key

    def _spawn(self, entry_id, fields: dict) -> None:
        task = asyncio.create_task(self._flush(entry_id, fields[b"conversation"].decode()), name="outbox-unsent")
        task.entry_id = entry_id
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _flush(self, entry_id, conversation_id: str) -> None:
        try:
            await self.handle(conversation_id)
        except SessionStoreUnavailable as exc:  # left pending: tried again after reclaim_after_s
            log.error("conversation %s: messages not sent yet (%s); they will be tried again", conversation_id, exc)
            return
        except Exception:
            log.exception("conversation %s: sending its messages failed", conversation_id)
        await self._done(entry_id, f"conversation {conversation_id}")  # (else a later flush finds nothing new)


# -- the adapters' base ----------------------------------------------------------


class MessagingChannel:
    """One messaging platform: its webhook and its send API.

    An adapter sets `name` (the route is /webhooks/<name>) and implements
    `verify`, `parse`, `render` and `post`; it may override `acknowledge`,
    `handshake` (GET on the webhook), `window_closed` and `before_turn`."""

    name: ClassVar[str]
    # Whether some buttons go out as numbered text options (`numbers_buttons`): the last ones sent
    # are then kept per conversation, and a reply that is only a number chooses one.
    may_number_buttons: ClassVar[bool] = False

    def __init__(self, app: web.Application, credentials, api: ApiClient):
        self.app = app
        self.credentials = credentials
        self.api = api

    @property
    def outbox(self) -> Outbox:
        return self.app[outbox_key]

    # -- the platform's part --------------------------------------------------

    def verify(self, request: web.Request, body: bytes) -> None:
        """Raise ChannelError 401 (no or a wrong signature or secret) or 403 (stale, wrong account)."""
        raise NotImplementedError

    def parse(self, request: web.Request, body: bytes) -> list[Inbound] | web.Response:
        """The body's shopper events, or a response to send as it is (a URL
        verification challenge). ChannelError 400 for a malformed body."""
        raise NotImplementedError

    def render(self, message: dict, record: dict) -> list[dict]:
        """A neutral message as the platform's own send requests (their bodies)."""
        raise NotImplementedError

    async def post(self, record: dict, payload: dict) -> None:
        """Send one rendered payload to the shopper in `record`. Raises SendFailed."""
        raise NotImplementedError

    def acknowledge(self) -> web.Response:
        return web.json_response({"ok": True})

    async def handshake(self, request: web.Request) -> web.Response:
        """GET on the webhook (Meta's subscription check); 405 unless the platform has one."""
        raise web.HTTPMethodNotAllowed("GET", ["POST"])

    def window_closed(self, record: dict) -> str | None:
        """Why a free-form message may not be sent now (WhatsApp's 24-hour window), or None."""
        return None

    async def before_turn(self, event: Inbound, paused: bool) -> None:
        """Platform work after the acknowledgement, before the turn (Telegram's answerCallbackQuery);
        `paused`: a person has the conversation and the bot will stay silent."""

    def numbers_buttons(self, buttons: list[dict]) -> bool:
        """Whether `render` shows these buttons as numbered text options ("1. Yes")."""
        return False

    # -- shared ------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        try:
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise ChannelError(413, f"request body is larger than {request.app[config_key].server.max_body_bytes} "
                                        "bytes") from None
            self.verify(request, body)  # before anything in the body is looked at
            parsed = self.parse(request, body)
        except ChannelError as exc:
            if exc.status in (401, 403):
                log.warning("%s webhook from %s refused (%d): %s", self.name, request.remote, exc.status, exc)
            return error_response(exc)
        if isinstance(parsed, web.Response):
            return parsed
        base_url = self.app[config_key].server.public_url or f"{request.scheme}://{request.host}"
        for event in parsed:  # (a signed body can still hold a number where a string belongs)
            event.text, event.event_id, event.address = str(event.text or ""), str(event.event_id), str(event.address)
            event.extra.setdefault("base_url", base_url.rstrip("/"))
        try:
            await self.app[inbox_key].accept(parsed)
        except TURN_ERRORS as exc:
            return error_response(exc)  # 503: the platform sends it again later
        return self.acknowledge()

    async def process(self, event: Inbound) -> None:
        """The turn for one accepted event (run by the inbox, after the acknowledgement)."""
        conversation_id = event.conversation_id
        if self.may_number_buttons and not event.media and (choice := CHOICE.match(event.text)):
            options = await self._options(conversation_id)
            index = int(choice.group(1)) - 1
            if 0 <= index < len(options):  # the shopper chose a numbered option
                event.text, event.display = options[index]["payload"], options[index]["title"]
        previous = await self.outbox.record(conversation_id) or {}
        text = event.text.strip()
        sure = has_chinese(text) or len(text.split()) >= 3  # "ok", "1" or "SK-1002" keep the last language
        # (fastText inference: off the event loop)
        lang = (await asyncio.to_thread(detect_language, text) if sure else "") or previous.get("lang", "")
        await self.open_record(event, lang)
        paused = await self.app[assistant_key].sessions.handed_off(conversation_id)
        await self.before_turn(event, paused)
        if event.media and not any(ch.isalnum() for ch in text):
            # a photo, a location, a voice message: kept for a person to see; the bot reads text only
            await self.outbox.deliver(conversation_id, [{"text": media_text(event.media)}], role="user",
                                      keys=[f"user:{event.event_id}"], client_id=event.event_id)
            replies = [] if paused else await self.outbox.deliver(
                conversation_id, [{"text": MEDIA_REPLY["zh" if lang == "zh" else "en"]}],
                keys=[f"reply:{event.event_id}:0"], reply_to=event.event_id)
        elif text:  # (a photo's caption: the transcript shows the photo's reference too, for a person)
            display = event.display or (f"{media_text(event.media)} {event.text}" if event.media else None)
            replies = await run_turn(self.app, conversation_id, event.event_id, event.text, self.name,
                                     display=display, metadata={"platform": self.name, **event.media})
        else:
            replies = []
        if not replies:  # a rerun of an event whose process died: its replies may be in the transcript, unsent
            await self.flush(conversation_id)

    async def open_record(self, event: Inbound, lang: str) -> None:
        """Remember (or refresh) where the event's conversation lives, in `lang`, and how to reply there."""
        details = {"via": event.via, "base_url": event.extra.get("base_url", ""), "name": event.name,
                   "last_inbound_at": str(event.received_at)}
        await self.outbox.open(event.conversation_id, self.name, event.address, lang, reach=API,
                               **{k: v for k, v in details.items() if v})

    async def send(self, record: dict, entries: list[dict]) -> None:
        """The outbound path's sender for this platform (`Outbox.register`): sends
        what is new in the conversation (`flush`), `entries` included."""
        await self.flush(record["id"])

    async def flush(self, conversation_id: str) -> None:
        """Send the conversation's bot and agent messages the platform has not
        taken yet, in transcript order, each rendered natively, through the send
        API. One process at a time per conversation (a Redis lock), so replies
        never overtake each other; the last entry handed to the platform is kept
        as the conversation's acknowledgement (`Outbox.ack`), so a process that
        dies mid-send leaves the rest to the next flush, and nothing is sent
        twice. A message that cannot be sent is logged and recorded
        (`Outbox.fail`); the next ones are still tried.

        Raises SessionStoreUnavailable when Redis does not answer."""
        client = self.app[redis_key]
        lock = client.lock(f"{self.outbox.prefix}:outbox-sending:{conversation_id}", timeout=self.send_lease_s,
                           blocking_timeout=self.send_lease_s + 5, raise_on_release_error=False)
        try:
            async with lock:
                record = await self.outbox.record(conversation_id)
                if record is None:
                    return
                entries = await self.outbox.after(conversation_id, await self.outbox.acked(conversation_id))
                if entries:
                    await self._send(record, entries, lock)
                    await self.outbox.ack(conversation_id, entries[-1]["id"])
        except (RedisError, LockError) as exc:
            raise unavailable("send the conversation's messages in order", exc) from exc

    @property
    def send_lease_s(self) -> float:
        """The longest one message's sending may take: every try with its timeout and its longest wait."""
        settings = self.app[config_key].channels.messaging
        return settings.send_attempts * (settings.send_timeout_s + settings.send_max_wait_s) + 30

    async def _send(self, record: dict, entries: list[dict], lock) -> None:
        conversation_id = record["id"]
        shown = [e for e in entries if e["role"] != "user"]
        closed = self.window_closed(record)
        if self.may_number_buttons and not closed and shown:
            await self._remember_options(conversation_id, shown)
        for entry in shown:
            if closed:
                log.error("conversation %s: message %s not sent: %s", conversation_id, entry["id"], closed)
                await self.outbox.fail(conversation_id, [entry], closed)
            else:
                try:
                    for payload in self.render(entry["message"], record):
                        await self.post(record, payload)
                except SendFailed as exc:
                    log.error("conversation %s: message %s not sent to %s: %s", conversation_id, entry["id"],
                              self.name, exc)
                    await self.outbox.fail(conversation_id, [entry], f"{self.name}: {exc}")
            await self.outbox.ack(conversation_id, entry["id"])
            await lock.reacquire()  # a fresh lease for the next message

    # -- numbered options -----------------------------------------------------------

    def _options_key(self, conversation_id: str) -> str:
        return f"{self.app[config_key].sessions.key_prefix}:options:{conversation_id}"

    async def _options(self, conversation_id: str) -> list[dict]:
        """The numbered options last sent: [{"payload", "title"}]. Raises SessionStoreUnavailable."""
        try:
            raw = await self.app[redis_key].get(self._options_key(conversation_id))
        except RedisError as exc:
            raise unavailable("read the numbered options", exc) from exc
        return json.loads(raw) if raw else []

    async def _remember_options(self, conversation_id: str, entries: list[dict]) -> None:
        """Keep the numbered options these entries show (for the session's TTL); a reply without them
        forgets the last ones, so a later "2" meaning a quantity is not read as a choice."""
        buttons = next((e["message"]["buttons"] for e in reversed(entries) if e["message"].get("buttons")), None)
        key = self._options_key(conversation_id)
        client = self.app[redis_key]
        try:
            if buttons and self.numbers_buttons(buttons):
                options = [{"payload": b.get("payload") or b["title"], "title": b["title"]} for b in buttons]
                await client.set(key, json.dumps(options, ensure_ascii=False),
                                 ex=self.app[config_key].sessions.ttl_s)
            else:
                await client.delete(key)
        except RedisError as exc:  # the replies still go out; a number is then read as it is
            log.warning("conversation %s: numbered options not remembered: %s", conversation_id, exc)


inbox_key = web.AppKey("inbox", Inbox)
messaging_key = web.AppKey("messaging", dict)  # platform name -> MessagingChannel
