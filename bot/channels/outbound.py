"""The conversation record and the one outbound path to shoppers.

Everything that must reach a shopper goes through `Outbox.deliver`: the
bot's replies, a person's answers from the handoff console, a late message
from an action. In Redis, per conversation:

    {prefix}:conversation:{id}   hash: channel, address, lang, created_at
    {prefix}:outbox:{id}         stream: the transcript, one entry per message (the last `keep`)
    {prefix}:outbox-keys:{id}    set: delivery keys already used (a resent delivery is added once)
    {prefix}:outbox-acked:{id}   the last entry id the shopper's client acknowledged
    {prefix}:outbox-failed:{id}  hash: entry id -> why a platform's API did not take it (for the console)

and one pub/sub channel, {prefix}:outbox, that names a conversation each
time it has new entries. Delivery is then:

  1. the entries are appended to the stream (one Lua script: atomic, and a
     delivery key already used adds nothing, so retries never duplicate);
  2. the conversation's id is published; the server process that holds the
     shopper's socket (whichever it is) reads the stream from that socket's
     cursor and sends what is new. With no socket open the entries wait in
     the stream and are sent when the shopper comes back;
  3. a channel that sends through a platform's API (messaging apps) registers
     a sender, which `deliver` calls with the new entries; a process without
     that sender (a script, a console elsewhere) queues the conversation in
     {prefix}:outbox-unsent, and one server process that has it sends.

Clients acknowledge the entries they showed (`ack`); entry ids let them
drop anything they already have, so nothing is lost or shown twice.

An entry: {"id": "1732900000000-0", "role": "user"|"bot"|"agent",
"client_id": str|None, "reply_to": str|None, "ts": unix seconds,
"message": neutral message (bot/channels/messages.py), "agent"?: the
console agent's name for role "agent"}.

Raises SessionStoreUnavailable when Redis does not answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Awaitable, Callable, Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.channels.messages import check_neutral
from bot.sessions.redis_client import SessionStoreUnavailable, follow, unavailable

log = logging.getLogger(__name__)

ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# How a conversation's shopper is reached later (its record's "reach"):
SOCKET = "socket"  # an open socket (widget, socket.io) reads the transcript, in whichever process holds it
API = "api"  # the channel's registered sender calls the platform's API (messaging apps)
NONE = "none"  # not at all (Rasa's REST channel answers only the request it was sent)
ROLES = ("user", "bot", "agent")
STOP_WAIT_S = 2.0  # how long stopping waits for a listener or pump to end

# KEYS: stream, delivery-key set, pub/sub channel name (not a key; passed for PUBLISH), conversation record
# ARGV: ttl_s, keep, conversation id, then (delivery key or "", entry JSON) pairs
# Returns {one stream id per pair ("" for a pair whose delivery key was used before), the record's
# fields and values}: the record comes in the same round trip, to decide how to reach the shopper.
_DELIVER = """
local ids, added = {}, false
for i = 4, #ARGV, 2 do
  if ARGV[i] == '' or redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'entry', ARGV[i + 1])
    added = true
  else
    ids[#ids + 1] = ''
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
if added then
  redis.call('PUBLISH', KEYS[3], ARGV[3])
end
return {ids, redis.call('HGETALL', KEYS[4])}
"""

# KEYS: acked ; ARGV: entry id, ttl_s. Moves the acknowledgement forward only.
_ACK = """
local old = redis.call('GET', KEYS[1])
if old then
  local oms, oseq = string.match(old, '(%d+)-(%d+)')
  local nms, nseq = string.match(ARGV[1], '(%d+)-(%d+)')
  if tonumber(nms) < tonumber(oms) or (nms == oms and tonumber(nseq) <= tonumber(oseq)) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

Sender = Callable[[dict, list[dict]], Awaitable[None]]


class Subscriber(Protocol):
    """A shopper's open socket in this process: told when its conversation has new entries."""

    def wake(self) -> None: ...


def _record(conversation_id: str, raw: dict[bytes, bytes]) -> dict | None:
    """A conversation record from its Redis hash, or None when there is none."""
    return {"id": conversation_id, **{k.decode(): v.decode() for k, v in raw.items()}} if raw else None


def entry_id_key(entry_id: str) -> tuple[int, int]:
    """A stream id as numbers, for comparing ids ("10-0" < "9-1" as strings)."""
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


class Outbox:
    def __init__(self, client: redis.Redis, prefix: str = "shopkeep", ttl_s: int = 86400, keep: int = 200):
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.keep = keep
        self.channel = f"{prefix}:outbox"
        self._deliver = client.register_script(_DELIVER)
        self._ack = client.register_script(_ACK)
        self._senders: dict[str, Sender] = {}
        self._local: dict[str, set[Subscriber]] = {}
        self._listener: asyncio.Task | None = None
        self._stopping = False
        self.listening = asyncio.Event()  # set while this process's subscription is live

    # -- the conversation record ------------------------------------------

    def _key(self, kind: str, conversation_id: str) -> str:
        return f"{self.prefix}:{kind}:{conversation_id}"

    @property
    def unsent_key(self) -> str:
        """A stream of conversations with messages for a platform that the process that delivered them
        could not send (no sender registered there); the server processes send them."""
        return f"{self.prefix}:outbox-unsent"

    async def open(self, conversation_id: str, channel: str, address: str, lang: str | None = None,
                   reach: str = API, **details: str) -> dict:
        """Remember (or refresh) where a conversation lives: its channel, the
        address to reach the shopper there, and how (`reach`: SOCKET, API or
        NONE). `details`: more string fields a channel needs to reply (the
        store's own number or page, the time of the shopper's last message).
        Returns the record."""
        if reach not in (SOCKET, API, NONE):
            raise ValueError(f"reach must be {SOCKET!r}, {API!r} or {NONE!r}, got {reach!r}")
        key = self._key("conversation", conversation_id)
        record = {"channel": channel, "address": address, "lang": lang or "", "reach": reach, **details}
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hsetnx(key, "created_at", str(time.time()))
                pipe.hset(key, mapping=record)
                pipe.expire(key, self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            raise unavailable("record the conversation", exc) from exc
        return {"id": conversation_id, **record}

    async def set_lang(self, conversation_id: str, lang: str) -> None:
        """The language the conversation is in now ("en", "zh")."""
        try:
            await self.client.hset(self._key("conversation", conversation_id), "lang", lang)
        except RedisError as exc:
            raise unavailable("record the conversation's language", exc) from exc

    async def record(self, conversation_id: str) -> dict | None:
        """{"id", "channel", "address", "lang", "reach", "created_at"}, or None for an unknown conversation."""
        try:
            raw = await self.client.hgetall(self._key("conversation", conversation_id))
        except RedisError as exc:
            raise unavailable("read the conversation", exc) from exc
        return _record(conversation_id, raw)

    # -- sending ----------------------------------------------------------

    def register(self, channel: str, sender: Sender) -> None:
        """How a channel whose conversations are reached by API sends:
        `sender(record, entries)` sends new entries through the platform's API.
        (Socket channels need none: their open sockets read the transcript.)"""
        self._senders[channel] = sender

    async def deliver(self, conversation_id: str, messages: list[dict], role: str = "bot",
                      keys: list[str] | None = None, reply_to: str | None = None,
                      client_id: str | None = None, agent: str | None = None) -> list[dict]:
        """Add `messages` (neutral, bot/channels/messages.py) to the
        conversation and send them to the shopper, wherever they are connected.

        `keys`: one delivery key per message; a message whose key was used
        before is not added again (a retried turn, a resent webhook).
        Returns the new entries (a used key's message is left out)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        for message in messages:
            check_neutral(message)
        if keys is not None and len(keys) != len(messages):
            raise ValueError("one delivery key per message")
        if not messages:
            return []
        now = time.time()
        bodies = [{"role": role, "client_id": client_id, "reply_to": reply_to, "ts": now, "message": m,
                   **({"agent": agent} if agent else {})} for m in messages]
        args = [self.ttl_s, self.keep, conversation_id]
        for key, body in zip(keys or [""] * len(messages), bodies):
            args += [key, json.dumps(body, ensure_ascii=False)]
        try:
            ids, fields = await self._deliver(keys=[self._key("outbox", conversation_id),
                                                    self._key("outbox-keys", conversation_id), self.channel,
                                                    self._key("conversation", conversation_id)], args=args)
        except RedisError as exc:
            raise unavailable("deliver the messages", exc) from exc
        entries = [{"id": i.decode(), **body} for i, body in zip(ids, bodies) if i]
        if entries and role != "user":
            record = _record(conversation_id, dict(zip(fields[::2], fields[1::2])))
            reach = record.get("reach") if record else None
            if reach == API and record["channel"] in self._senders:
                await self._senders[record["channel"]](record, entries)
            elif reach == API:
                # this process cannot send to that platform (a script, a console elsewhere): the server
                # processes that can read this queue, and one of them sends (bot/channels/webhooks.py)
                try:
                    await self.client.xadd(self.unsent_key, {"conversation": conversation_id}, maxlen=100_000)
                except RedisError as exc:
                    raise unavailable("hand the messages to the server to send", exc) from exc
                log.info("conversation %s (%s): %d message(s) handed to the server processes to send",
                         conversation_id, record["channel"], len(entries))
            elif reach != SOCKET:
                log.warning("conversation %s (%s): its channel cannot send later messages; %d message(s) kept "
                            "in its transcript", conversation_id, record["channel"] if record else "no record",
                            len(entries))
        return entries

    async def fail(self, conversation_id: str, entries: list[dict], reason: str) -> None:
        """Remember that `entries` could not be sent to the shopper, and why
        ("outside the 24-hour window", "HTTP 403: ..."), for the handoff console."""
        if not entries:
            return
        now = time.time()
        key = self._key("outbox-failed", conversation_id)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={e["id"]: json.dumps({"reason": reason, "at": now}) for e in entries})
                pipe.expire(key, self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            raise unavailable("record the failed delivery", exc) from exc

    async def failures(self, conversation_id: str) -> dict[str, dict]:
        """{entry id: {"reason", "at"}} for the entries a platform did not take."""
        try:
            raw = await self.client.hgetall(self._key("outbox-failed", conversation_id))
        except RedisError as exc:
            raise unavailable("read the failed deliveries", exc) from exc
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def after(self, conversation_id: str, after_id: str | None = None, count: int | None = None) -> list[dict]:
        """The entries after `after_id` (all kept ones when None), oldest first, at most `count`."""
        count = count or self.keep
        start = f"({after_id}" if after_id else "-"
        try:
            rows = await self.client.xrange(self._key("outbox", conversation_id), start, "+", count=count)
        except RedisError as exc:
            raise unavailable("read the conversation's messages", exc) from exc
        return [{"id": i.decode(), **json.loads(fields[b"entry"])} for i, fields in rows]

    async def last(self, conversation_id: str, count: int) -> list[dict]:
        """The latest `count` entries, oldest first."""
        try:
            rows = await self.client.xrevrange(self._key("outbox", conversation_id), count=count)
        except RedisError as exc:
            raise unavailable("read the conversation's messages", exc) from exc
        return [{"id": i.decode(), **json.loads(fields[b"entry"])} for i, fields in reversed(rows)]

    async def ack(self, conversation_id: str, entry_id: str) -> None:
        """The shopper's client has shown every entry up to `entry_id`. ValueError for a malformed id."""
        if not ENTRY_ID.match(entry_id or ""):
            raise ValueError(f"not an entry id: {entry_id!r}")
        try:
            await self._ack(keys=[self._key("outbox-acked", conversation_id)], args=[entry_id, self.ttl_s])
        except RedisError as exc:
            raise unavailable("acknowledge the message", exc) from exc

    async def acked(self, conversation_id: str) -> str | None:
        try:
            raw = await self.client.get(self._key("outbox-acked", conversation_id))
        except RedisError as exc:
            raise unavailable("read the acknowledgement", exc) from exc
        return raw.decode() if raw else None

    # -- this process's sockets -------------------------------------------

    def attach(self, conversation_id: str, subscriber: Subscriber) -> None:
        self._local.setdefault(conversation_id, set()).add(subscriber)

    def detach(self, conversation_id: str, subscriber: Subscriber) -> None:
        subscribers = self._local.get(conversation_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._local[conversation_id]

    @property
    def open_sockets(self) -> int:
        return sum(len(s) for s in self._local.values())

    def start(self) -> None:
        """Listen for new entries (one pub/sub subscription per process)."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="outbox-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._stopping = True
            self._listener.cancel()
            # redis-py can turn a cancellation inside a read into a ConnectionError; the flag ends the loop then
            await asyncio.wait({self._listener}, timeout=STOP_WAIT_S)
            self._listener = None

    def _wake(self, conversation_id: str | None = None) -> None:
        targets = (self._local.get(conversation_id, ()) if conversation_id is not None
                   else [s for subs in self._local.values() for s in subs])
        for subscriber in list(targets):
            subscriber.wake()

    async def _listen(self) -> None:
        async def handle(channel: str, conversation_id: str) -> None:
            self._wake(conversation_id)

        # after a lost subscription, every socket reads what arrived meanwhile
        await follow(self.client, (self.channel,), handle, self.listening, lambda: self._stopping,
                     "outbound messages", on_subscribed=self._wake)


class SocketPump:
    """Sends a conversation's new entries to one open socket, in order, each once.

    `send(entry)` writes one entry to the socket; `cursor` is the last entry
    id the socket already has (None: send the whole kept transcript). Woken
    by the outbox's listener (any process delivered) or by `wake()`; a Redis
    failure is retried every 0.5 s, so entries are late, never skipped."""

    def __init__(self, outbox: Outbox, conversation_id: str, send: Callable[[dict], Awaitable[None]],
                 cursor: str | None = None, on_sent: Callable[[str], Awaitable[None]] | None = None):
        self.outbox = outbox
        self.conversation_id = conversation_id
        self.cursor = cursor
        self._send = send
        self._on_sent = on_sent
        self._event = asyncio.Event()
        self._lock = asyncio.Lock()  # one flush at a time: an entry is never sent twice
        self._stopping = False
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        self._event.set()

    def start(self) -> None:
        self.outbox.attach(self.conversation_id, self)
        self._event.set()
        self._task = asyncio.create_task(self._run(), name=f"pump-{self.conversation_id}")

    async def stop(self) -> None:
        self.outbox.detach(self.conversation_id, self)
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_WAIT_S)

    async def flush(self) -> None:
        """Send everything after the cursor now. Raises what `send` raises (a closed socket)."""
        async with self._lock:
            await self._flush()

    async def _flush(self) -> None:
        while True:
            try:
                entries = await self.outbox.after(self.conversation_id, self.cursor)
            except SessionStoreUnavailable as exc:
                if self._stopping:
                    return
                log.warning("conversation %s: cannot read new messages yet (%s)", self.conversation_id, exc.reason)
                await asyncio.sleep(0.5)
                continue
            for entry in entries:
                await self._send(entry)
                self.cursor = entry["id"]
            if entries and self._on_sent is not None:
                await self._on_sent(self.cursor)
            if len(entries) < self.outbox.keep:
                return

    async def _run(self) -> None:
        while not self._stopping:
            await self._event.wait()
            self._event.clear()
            try:
                await self.flush()
            except (ConnectionError, RuntimeError):
                return  # the socket closed; its cursor is where a reconnect starts
