"""The handoff desk: what the agent console knows about conversations, in Redis.

Every turn tells the desk what happened (`after_turn`); agents act through it
(take over, reply, note, hand back, resolve). Keys, under the sessions' prefix P:

    P:handoff:{id}       hash: the conversation's current (or last) handoff: status (waiting, taken,
                         handed_back, resolved, cancelled), reason, since, agent, taken_at,
                         first_reply_at, after_hours, contact_email, channel, lang
    P:queue              sorted set: conversations waiting for or held by a person (score: since)
    P:index              sorted set: every conversation (score: its last message), for search and history
    P:traces:{id}        hash: message id -> what the bot did with that message (intent, actions, sources)
    P:notes:{id}         list: internal notes (JSON {agent, text, ts})
    P:canned             hash: "{lang}:{shortcut}" -> canned response (JSON {shortcut, text, lang})
    P:console-events     stream: conversation, handoff, first_reply, handed_back, resolved (for the summary)
    P:gaps:{YYYY-MM-DD}  sorted set: questions the bot could not answer that day -> count
    P:gaps-of:{id}       list: the [day, question] pairs the conversation added there (for deletion)

and the pub/sub channel P:console, which names what changed ({"type": "queue"}
or {"type": "conversation", "id"}); bot/console/live.py passes it on to every
open console. Transcripts are the outbound path's (bot/channels/outbound.py).

Everything per conversation expires `retention_s` after the conversation's
last message; `prune` drops expired conversations from the index and queue.
Raises SessionStoreUnavailable when Redis does not answer.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.channels.outbound import NONE, Outbox
from bot.dialogue.engine import AGENT_PICKED, LANGUAGE_SLOT, NEGATIVE_SENTIMENT, NOT_ANSWERED
from bot.sessions.lock import ConversationLock
from bot.sessions.redis_client import unavailable
from bot.sessions.store import SessionStore
from lm.language import has_chinese

log = logging.getLogger(__name__)
# Actions every turn has that say nothing of what the bot did (waiting, a session's start): not in traces.
BOOKKEEPING_ACTIONS = frozenset({"action_listen", "action_session_start"})

WAITING, TAKEN = "waiting", "taken"  # in the queue
HANDED_BACK, RESOLVED, CANCELLED = "handed_back", "resolved", "cancelled"  # out of it
ELSEWHERE = "elsewhere"  # handled in another console the channel belongs to (Chatwoot), never queued here
# Priority: minutes waited, plus a head start for shoppers who are angry or unanswered (in minutes).
PRIORITY_BONUS_MIN = {NEGATIVE_SENTIMENT: 15.0, NOT_ANSWERED: 5.0}
LAST_MESSAGES = 3  # shown per queue item
SEARCH_SCAN = 5000  # most recent conversations a search reads
EVENTS_KEEP = 200_000  # summary events kept (the oldest go first)
MAX_NOTE_CHARS = 4000
JOINED_TEXT = {"en": "{agent} from our team has joined the conversation.",
               "zh": "我们团队的 {agent} 已加入对话。"}
BACK_TEXT = {"en": "You're back with the {store} assistant. Ask me anything, or ask for a person again at any time.",
             "zh": "现在由{store}的智能助手继续为您服务。有任何问题都可以问我，也可以随时再次要求人工客服。"}

# KEYS: handoff hash ; ARGV: agent, force ("1"/""), now. Returns "" (taken) or the agent holding it.
_TAKE = """
local holder = redis.call('HGET', KEYS[1], 'agent')
local status = redis.call('HGET', KEYS[1], 'status')
if holder and holder ~= '' and holder ~= ARGV[1] and status == 'taken' and ARGV[2] == '' then
  return holder
end
redis.call('HSET', KEYS[1], 'agent', ARGV[1], 'status', 'taken', 'taken_at', ARGV[3])
return ''
"""


def transcript_ttl_s(config) -> int:
    """How long a transcript is kept after its last message: the session's life, or the console's
    retention when longer."""
    return int(max(config.sessions.ttl_s, config.console.retention_days * 86400))


class UnknownConversation(LookupError):
    """No conversation has this id."""

    def __init__(self, conversation_id: str):
        super().__init__(f"no conversation {conversation_id}")
        self.conversation_id = conversation_id


class NotAssigned(Exception):
    """The conversation is held by another agent (`agent`), or by nobody (`agent` None)."""

    def __init__(self, agent: str | None):
        super().__init__(f"this conversation is being answered by {agent}" if agent
                         else "take this conversation over first")
        self.agent = agent


class Unreachable(Exception):
    """The shopper's channel cannot take a later message (Rasa's REST channel answers only the request)."""

    def __init__(self, channel: str):
        super().__init__(f"the shopper wrote through the {channel} channel, which cannot receive later messages "
                         "(it only answers each request): reach them another way, then resolve")
        self.channel = channel


class NotOpen(Exception):
    """The conversation has no handoff waiting or taken (`status`: its last one's, or None)."""

    def __init__(self, status: str | None):
        super().__init__(f"this conversation is not with a person ({status.replace('_', ' ')})" if status
                         else "this conversation has not been handed to a person")
        self.status = status


class HandoffDesk:
    def __init__(self, client: redis.Redis, outbox: Outbox, sessions: SessionStore, locks: ConversationLock,
                 prefix: str = "shopkeep", retention_s: float = 30 * 86400, store_name: str = "our store",
                 elsewhere: frozenset[str] = frozenset()):
        """`elsewhere`: channels whose handoffs people answer in that platform's own console (Chatwoot):
        recorded (history, summary) but not queued here."""
        self.client = client
        self.outbox = outbox
        self.sessions = sessions
        self.locks = locks
        self.prefix = prefix
        self.retention_s = int(retention_s)
        self.store_name = store_name
        self.elsewhere = elsewhere
        self.channel = f"{prefix}:console"
        self.queue_key = f"{prefix}:queue"
        self.index_key = f"{prefix}:index"
        self.events_key = f"{prefix}:console-events"
        self.canned_key = f"{prefix}:canned"
        self._take = client.register_script(_TAKE)

    @classmethod
    def from_config(cls, client: redis.Redis, config, outbox: Outbox | None = None,
                    sessions: SessionStore | None = None, locks: ConversationLock | None = None) -> "HandoffDesk":
        """The desk as `config` sets it up (the server's, and the CLI's with the same settings): the
        retention, the store's name, and Chatwoot's handoffs answered in Chatwoot. The outbound path, the
        session store and the locks are the server's when given, else made here."""
        settings = config.sessions
        retention_s = config.console.retention_days * 86400
        if outbox is None:
            outbox = Outbox(client, settings.key_prefix, transcript_ttl_s(config), settings.history_limit)
        sessions = sessions or SessionStore(client, settings.key_prefix, settings.ttl_s, settings.history_limit)
        locks = locks or ConversationLock(client, settings.key_prefix, settings.lock_lease_s, settings.lock_wait_s)
        return cls(client, outbox, sessions, locks, settings.key_prefix, retention_s, config.store_name,
                   elsewhere=frozenset({"chatwoot"}))  # Chatwoot's agents answer there

    def key(self, kind: str, conversation_id: str) -> str:
        return f"{self.prefix}:{kind}:{conversation_id}"

    async def _redis(self, what: str, call):
        """Await `call` (a coroutine), turning Redis failures into SessionStoreUnavailable."""
        try:
            return await call
        except RedisError as exc:
            raise unavailable(what, exc) from exc

    async def publish(self, kind: str, conversation_id: str | None = None) -> None:
        message = {"type": kind, **({"id": conversation_id} if conversation_id else {})}
        await self._redis("tell the consoles", self.client.publish(self.channel, json.dumps(message)))

    def _event(self, pipe, kind: str, conversation_id: str, **fields) -> None:
        pipe.xadd(self.events_key, {"type": kind, "id": conversation_id,
                                    **{k: str(v) for k, v in fields.items()}}, maxlen=EVENTS_KEEP)

    # -- what each turn tells the desk ------------------------------------

    async def after_turn(self, conversation_id: str, channel: str, before: dict | None, session,
                         events: list[dict]) -> None:
        """Record a finished turn: the conversation in the index, what the bot
        did (trace), questions it could not answer, and a handoff that began or
        ended. `before`: the session's handoff before the turn; `events`: the
        turn's events (session.new_events before the save)."""
        now = time.time()
        user = next((e for e in events if e.get("event") == "user"), None)
        text = (user or {}).get("text") or ""
        lang = session.slots.get(LANGUAGE_SLOT) or ("zh" if has_chinese(text) else "en")
        record = await self.outbox.record(conversation_id)
        if record is None:  # (a turn from outside the channels: no record of its own)
            await self.outbox.open(conversation_id, channel, conversation_id, lang, reach=NONE)
        elif record.get("lang") != lang:  # the language the shopper writes, whatever the page's (the console shows it)
            await self.outbox.set_lang(conversation_id, lang)
        after = session.handoff
        trace = self.trace(events)
        user = user or {}
        message_id = str((user.get("metadata") or {}).get("message_id") or f"t{user.get('timestamp', now)}")
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(self.index_key, {conversation_id: now})
                pipe.hset(self.key("traces", conversation_id), message_id, json.dumps(trace, ensure_ascii=False))
                pipe.expire(self.key("traces", conversation_id), self.retention_s)
                if trace["abstained"] and text:
                    day, question = date.today().isoformat(), " ".join(text.split())[:200]
                    gaps = f"{self.prefix}:gaps:{day}"
                    pipe.zincrby(gaps, 1, question)
                    pipe.expire(gaps, self.retention_s)
                    # which gaps this conversation added, so that deleting it takes them back
                    pipe.rpush(self.key("gaps-of", conversation_id), json.dumps([day, question], ensure_ascii=False))
                    pipe.expire(self.key("gaps-of", conversation_id), self.retention_s)
                if after and not before:
                    self._open(pipe, conversation_id, after, channel, lang, now)
                elif before and not after:
                    self._close(pipe, conversation_id, CANCELLED, None, now)
                elif after:
                    extra = {k: str(after[k]) for k in ("contact_email",) if after.get(k)}
                    if extra:
                        pipe.hset(self.key("handoff", conversation_id), mapping=extra)
                    pipe.expire(self.key("handoff", conversation_id), self.retention_s)
                first, *_ = await pipe.execute()
                if first:  # a new conversation
                    self._event(pipe, "conversation", conversation_id, channel=channel)
                    await pipe.execute()
        except RedisError as exc:
            raise unavailable("record the turn for the console", exc) from exc
        if before or after:
            await self.publish("queue")
        await self.publish("conversation", conversation_id)

    @staticmethod
    def trace(events: list[dict]) -> dict:
        """What the bot did with one message, from the turn's events: {"intent", "confidence",
        "entities", "actions", "sources", "abstained", "sentiment"}."""
        user = next((e for e in events if e.get("event") == "user"), {})
        parse = user.get("parse_data") or {}
        bots = [(e.get("data") or {}).get("custom") or {} for e in events if e.get("event") == "bot"]
        return {"intent": (parse.get("intent") or {}).get("name"),
                "confidence": (parse.get("intent") or {}).get("confidence"),
                "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities", [])],
                "actions": [e["name"] for e in events if e.get("event") == "action" and e.get("name")
                            and e["name"] not in BOOKKEEPING_ACTIONS],
                "sources": [s if isinstance(s, str) else s.get("title") for c in bots for s in c.get("sources") or []],
                "abstained": any(c.get("abstained") for c in bots),
                "sentiment": parse.get("sentiment")}

    def _open(self, pipe, conversation_id: str, handoff: dict, channel: str, lang: str, now: float) -> None:
        key = self.key("handoff", conversation_id)
        since = float(handoff.get("since") or now)
        pipe.delete(key)
        pipe.hset(key, mapping={"status": ELSEWHERE if channel in self.elsewhere else WAITING,
                                "reason": handoff.get("reason") or "", "since": since,
                                "agent": "", "channel": channel, "lang": lang,
                                "after_hours": "1" if handoff.get("after_hours") else ""})
        pipe.expire(key, self.retention_s)
        if channel not in self.elsewhere:
            pipe.zadd(self.queue_key, {conversation_id: since})
        self._event(pipe, "handoff", conversation_id, reason=handoff.get("reason") or "")

    def _close(self, pipe, conversation_id: str, status: str, agent: str | None, now: float) -> None:
        pipe.hset(self.key("handoff", conversation_id), mapping={"status": status, "closed_at": now,
                                                                 "closed_by": agent or ""})
        pipe.zrem(self.queue_key, conversation_id)
        if status != CANCELLED:
            self._event(pipe, status, conversation_id, agent=agent or "")

    # -- reading ----------------------------------------------------------

    async def handoff(self, conversation_id: str) -> dict | None:
        raw = await self._redis("read the handoff", self.client.hgetall(self.key("handoff", conversation_id)))
        if not raw:
            return None
        record = {k.decode(): v.decode() for k, v in raw.items()}
        for field in ("since", "taken_at", "first_reply_at", "closed_at"):
            if record.get(field):
                record[field] = float(record[field])
        record["after_hours"] = bool(record.get("after_hours"))
        record["agent"] = record.get("agent") or None
        record["contact_email"] = record.get("contact_email") or None
        return record

    async def queue(self) -> list[dict]:
        """The conversations waiting for a person, highest priority first, then those a person has
        (QueueItem, README "Agent console")."""
        ids = [i.decode() for i in await self._redis("read the queue", self.client.zrange(self.queue_key, 0, -1))]
        now = time.time()
        items = []
        for conversation_id in ids:
            record = await self.handoff(conversation_id)
            if record is None or record["status"] not in (WAITING, TAKEN):
                await self._redis("tidy the queue", self.client.zrem(self.queue_key, conversation_id))
                continue
            wait = max(0.0, now - record["since"])
            last = (await self.outbox.last(conversation_id, LAST_MESSAGES) if record.get("channel") != "rest"
                    else (await self.transcript(conversation_id))[-LAST_MESSAGES:])  # (REST: from the history)
            items.append({
                "id": conversation_id, "channel": record.get("channel", ""), "lang": record.get("lang", ""),
                "reason": record.get("reason", ""), "since": record["since"], "wait_s": round(wait, 1),
                "status": record["status"], "agent": record["agent"],
                "priority": round(wait / 60 + PRIORITY_BONUS_MIN.get(record.get("reason"), 0.0), 2),
                "last_messages": [_short(entry) for entry in last],
                "contact_email": record["contact_email"], "after_hours": record["after_hours"]})
        items.sort(key=lambda item: (item["status"] != WAITING, -item["priority"]))  # waiting first
        return items

    async def transcript(self, conversation_id: str, record: dict | None = None) -> list[dict]:
        """The conversation's messages, oldest first (Entry, bot/console/api.py). Rasa's REST channel
        answers in its HTTP responses and keeps no transcript: its shopper and bot messages come from
        the session's history, with the console's own messages (agents' replies) among them."""
        entries = await self.outbox.after(conversation_id)
        record = record or await self.outbox.record(conversation_id) or {}  # (`record`: read already)
        if record.get("reach") != NONE:
            return entries
        session = await self.sessions.load(conversation_id)
        out = []
        for n, event in enumerate(session.history):
            if event.get("event") in ("user", "bot"):
                message = {"text": event.get("text")} | ({k: v for k, v in (event.get("data") or {}).items()
                                                          if k in ("buttons", "image", "custom")})
                message_id = (event.get("metadata") or {}).get("message_id") or f"t{event.get('timestamp')}"
                out.append({"id": f"h{n}", "role": event["event"], "ts": event.get("timestamp"), "message": message,
                            "client_id": message_id if event["event"] == "user" else None, "reply_to": None})
        return sorted(out + entries, key=lambda e: e.get("ts") or 0)

    async def conversation(self, conversation_id: str) -> dict | None:
        """Everything an agent sees of one conversation (ConversationView), or None when unknown."""
        record = await self.outbox.record(conversation_id)
        if record is None:
            return None
        transcript = await self.transcript(conversation_id, record)
        traces = await self._redis("read the traces", self.client.hgetall(self.key("traces", conversation_id)))
        notes = await self._redis("read the notes", self.client.lrange(self.key("notes", conversation_id), 0, -1))
        return {"id": conversation_id, "channel": record.get("channel"), "lang": record.get("lang") or "",
                "reach": record.get("reach"), "created_at": float(record.get("created_at") or 0) or None,
                "handoff": await self.handoff(conversation_id), "transcript": transcript,
                "turns": {k.decode(): json.loads(v) for k, v in traces.items()},
                "notes": [json.loads(n) for n in notes], "failed": await self.outbox.failures(conversation_id)}

    async def last_question(self, conversation_id: str) -> str | None:
        """The shopper's latest message, for a suggested reply."""
        for entry in reversed(await self.transcript(conversation_id)):
            if entry["role"] == "user" and (entry.get("message") or {}).get("text"):
                return entry["message"]["text"]
        return None

    # -- what agents do ---------------------------------------------------

    async def take(self, conversation_id: str, agent: str, force: bool = False) -> dict:
        """Give the conversation to `agent`; the bot goes silent (its session is paused, under the
        conversation's lock, so no turn runs meanwhile). Raises NotAssigned when another agent holds it
        (unless `force`), UnknownConversation for an unknown id."""
        record = await self.outbox.record(conversation_id)
        if record is None:
            raise UnknownConversation(conversation_id)
        now = time.time()
        async with self.locks.hold(conversation_id) as held:
            session = await self.sessions.load(conversation_id)
            current = await self.handoff(conversation_id)
            queued = current is not None and current["status"] in (WAITING, TAKEN)
            if queued and current["agent"] and current["agent"] != agent and current["status"] == TAKEN and not force:
                raise NotAssigned(current["agent"])
            joined = not (queued and current["status"] == TAKEN and current["agent"] == agent)
            if not session.handoff:  # an agent picks a conversation the bot still has
                session.handoff = {"since": now, "reason": AGENT_PICKED}
                session.record({"event": "pause"})
            # (the dialogue then keeps the handoff when the shopper says "never mind": a person is answering)
            session.handoff["agent"] = agent
            await self.sessions.save(session, fence=held.fence)
            if not queued:
                async with self.client.pipeline(transaction=True) as pipe:
                    self._open(pipe, conversation_id, session.handoff, record.get("channel", ""),
                                     record.get("lang", ""), now)
                    await self._redis("open the handoff", pipe.execute())
            holder = await self._redis("assign the conversation", self._take(
                keys=[self.key("handoff", conversation_id)], args=[agent, "1" if force else "", now]))
            if holder:
                raise NotAssigned(holder.decode())
        if joined:  # the shopper is told a person is here now
            await self._tell(conversation_id, JOINED_TEXT, agent=agent)
        await self.publish("queue")
        await self.publish("conversation", conversation_id)
        return await self.handoff(conversation_id)

    async def _held_by(self, conversation_id: str, agent: str) -> dict:
        record = await self.handoff(conversation_id)
        if record is None or record["status"] != TAKEN or record["agent"] != agent:
            raise NotAssigned(record["agent"] if record and record["status"] == TAKEN else None)
        return record

    async def reply(self, conversation_id: str, agent: str, text: str) -> tuple[dict, str]:
        """Send the agent's message to the shopper by their channel (the outbound path). Returns
        (the transcript entry, how it reaches the shopper: "socket", "api" or "none"). Raises
        NotAssigned unless `agent` holds the conversation."""
        conversation = await self.outbox.record(conversation_id)
        if conversation is None:
            raise UnknownConversation(conversation_id)
        if conversation.get("reach") == NONE:
            raise Unreachable(conversation.get("channel") or "this channel")
        record = await self._held_by(conversation_id, agent)
        entries = await self.outbox.deliver(conversation_id, [{"text": text}], role="agent",
                                            keys=[f"agent:{uuid.uuid4().hex}"], agent=agent)
        if not record.get("first_reply_at"):
            now = time.time()
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hsetnx(self.key("handoff", conversation_id), "first_reply_at", now)
                self._event(pipe, "first_reply", conversation_id, agent=agent,
                                  seconds=round(now - record["since"], 1))
                await self._redis("record the first reply", pipe.execute())
        await self.publish("queue")
        return entries[0], conversation.get("reach", NONE)

    async def note(self, conversation_id: str, agent: str, text: str) -> dict:
        """An internal note (never sent to the shopper)."""
        note = {"agent": agent, "text": text[:MAX_NOTE_CHARS], "ts": time.time()}
        key = self.key("notes", conversation_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(note, ensure_ascii=False))
            pipe.expire(key, self.retention_s)
            await self._redis("save the note", pipe.execute())
        await self.publish("conversation", conversation_id)
        return note

    async def hand_back(self, conversation_id: str, agent: str, resolve: bool = False,
                        since: float | None = None, admin: bool = False) -> bool:
        """The bot answers again. `resolve`: the matter is settled (closed quietly); otherwise the shopper
        is told they are back with the assistant. A waiting conversation can be handed back by any agent,
        a taken one only by its agent or an `admin` (NotAssigned otherwise). `since`: only the handoff
        that began then (False, and nothing done, when the session has another or none)."""
        async with self.locks.hold(conversation_id) as held:
            session = await self.sessions.load(conversation_id)
            if since is not None and (session.handoff or {}).get("since") != since:
                return False
            record = await self.handoff(conversation_id)
            if since is None and (record is None or record["status"] not in (WAITING, TAKEN)):
                raise NotOpen(record["status"] if record else None)
            if since is None and record["status"] == TAKEN and record["agent"] != agent and not admin:
                raise NotAssigned(record["agent"])
            if session.handoff:
                session.handoff = None
                session.record({"event": "resume"})
                await self.sessions.save(session, fence=held.fence)
        async with self.client.pipeline(transaction=True) as pipe:
            self._close(pipe, conversation_id, RESOLVED if resolve else HANDED_BACK, agent, time.time())
            await self._redis("close the handoff", pipe.execute())
        if not resolve:
            await self._tell(conversation_id, BACK_TEXT, store=self.store_name)
        await self.publish("queue")
        await self.publish("conversation", conversation_id)
        return True

    async def _tell(self, conversation_id: str, texts: dict[str, str], **values) -> None:
        """A message from the bot to the shopper in their language (`texts`: {"en", "zh"} templates);
        nothing for a channel that cannot receive later messages."""
        if (await self.outbox.record(conversation_id) or {}).get("reach") == NONE:
            return
        lang = "zh" if (await self.handoff(conversation_id) or {}).get("lang") == "zh" else "en"
        await self.outbox.deliver(conversation_id, [{"text": texts[lang].format(**values)}],
                                  keys=[f"console:{uuid.uuid4().hex}"])

    # -- canned responses -------------------------------------------------

    async def canned(self) -> list[dict]:
        raw = await self._redis("read the canned responses", self.client.hgetall(self.canned_key))
        return sorted((json.loads(v) for v in raw.values()), key=lambda c: (c["shortcut"], c["lang"]))

    async def add_canned(self, shortcut: str, text: str, lang: str = "") -> dict:
        """Add or replace the response for `shortcut` in `lang` ("en", "zh", or "" for any language):
        one shortcut can have a version per language."""
        item = {"shortcut": shortcut, "text": text, "lang": lang}
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.canned_key, f"{lang}:{shortcut}", json.dumps(item, ensure_ascii=False))
            pipe.hdel(self.canned_key, shortcut)  # (the one version a shortcut had before versions per language)
            await self._redis("save the canned response", pipe.execute())
        return item

    async def remove_canned(self, shortcut: str) -> bool:
        """Remove every language's version of `shortcut`."""
        fields = [shortcut, *(f"{lang}:{shortcut}" for lang in ("", "en", "zh"))]  # (and an unversioned one)
        return bool(await self._redis("remove the canned response", self.client.hdel(self.canned_key, *fields)))

    # -- search, history, deletion ----------------------------------------

    async def search(self, text: str = "", sender: str = "", channel: str = "", since: float | None = None,
                     until: float | None = None, limit: int = 50) -> list[dict]:
        """Conversations whose last message falls in [since, until] (unix s), newest first, whose id
        contains `sender`, on `channel`, with `text` in a message (case-insensitive). Reads at most the
        SEARCH_SCAN most recent conversations in the range."""
        rows = await self._redis("search the conversations", self.client.zrevrangebyscore(
            self.index_key, until if until is not None else "+inf", since if since is not None else "-inf",
            start=0, num=SEARCH_SCAN, withscores=True))
        needle = text.casefold().strip()
        found = []
        for raw_id, last_at in rows:
            conversation_id = raw_id.decode()
            if sender and sender.casefold() not in conversation_id.casefold():
                continue
            record = await self.outbox.record(conversation_id)
            if record is None or (channel and record.get("channel") != channel):
                continue
            preview = None
            if needle:
                entries = await self.transcript(conversation_id, record)
                preview = next((e["message"].get("text") for e in entries
                                if needle in str((e.get("message") or {}).get("text") or "").casefold()), None)
                if preview is None:
                    continue
            found.append({"id": conversation_id, "channel": record.get("channel"), "lang": record.get("lang") or "",
                          "last_at": last_at, "created_at": float(record.get("created_at") or 0) or None,
                          "handoff": await self.handoff(conversation_id), "preview": preview})
            if len(found) >= limit:
                break
        return found

    async def export(self, conversation_id: str) -> dict | None:
        """The conversation as one JSON document: the ConversationView plus the export time."""
        view = await self.conversation(conversation_id)
        return None if view is None else {"exported_at": datetime.now(timezone.utc).isoformat(), **view}

    async def delete(self, conversation_id: str) -> int:
        """Delete everything kept about the conversation (a shopper's request): session, history,
        transcript, traces, notes, handoff, its place in the queue and index, the questions it added
        to the knowledge gaps and its events in the summary. Returns the keys deleted. Redis is then
        asked to rewrite its append-only file, so the text leaves the disk too (BGREWRITEAOF; skipped,
        with a warning, where the server refuses it)."""
        suffix, inner = f":{conversation_id}", f":{conversation_id}:"
        pattern = f"{self.prefix}:*{_glob_escape(conversation_id)}*"
        keys = []
        try:
            async for key in self.client.scan_iter(match=pattern, count=1000):
                name = key.decode()
                if name.endswith(suffix) or inner in name:  # exactly this conversation, not one containing its id
                    keys.append(key)
            gaps = [json.loads(g) for g in await self.client.lrange(self.key("gaps-of", conversation_id), 0, -1)]
            events = [entry_id async for entry_id in self._events_of(conversation_id)]
            async with self.client.pipeline(transaction=True) as pipe:
                if keys:
                    pipe.delete(*keys)
                pipe.zrem(self.queue_key, conversation_id)
                pipe.zrem(self.index_key, conversation_id)
                for day, question in gaps:
                    pipe.zincrby(f"{self.prefix}:gaps:{day}", -1, question)
                    pipe.zremrangebyscore(f"{self.prefix}:gaps:{day}", "-inf", 0)
                if events:
                    pipe.xdel(self.events_key, *events)
                await pipe.execute()
        except RedisError as exc:
            raise unavailable("delete the conversation", exc) from exc
        try:
            await self.client.bgrewriteaof()
        except RedisError as exc:  # (already running, or not allowed on a managed Redis)
            log.warning("conversation %s deleted; Redis did not rewrite its append-only file now (%s)",
                        conversation_id, exc)
        await self.publish("queue")
        return len(keys)

    async def _events_of(self, conversation_id: str):
        """The ids of the summary events about the conversation (reads the whole stream, in pages)."""
        start = "-"
        while True:
            rows = await self.client.xrange(self.events_key, start, "+", count=5000)
            for entry_id, fields in rows:
                if fields.get(b"id", b"").decode() == conversation_id:
                    yield entry_id
            if len(rows) < 5000:
                return
            start = "(" + rows[-1][0].decode()

    async def prune(self) -> int:
        """Drop conversations past the retention from the index (their keys have expired), and queue
        entries whose handoff record is gone. Returns how many were dropped from the index."""
        cutoff = time.time() - self.retention_s
        dropped = await self._redis("prune the index",
                                    self.client.zremrangebyscore(self.index_key, "-inf", cutoff))
        # summary events (conversation ids) are kept for the retention too
        await self._redis("prune the summary", self.client.xtrim(self.events_key, minid=f"{int(cutoff * 1000)}-0"))
        await self.queue()  # (drops queue entries whose record expired)
        return dropped

    # -- the store's summary ----------------------------------------------

    async def metrics(self, days: int = 7) -> dict:
        """The summary for the last `days` days: conversations, handoffs, the share the bot resolved
        alone, handoffs by reason, median first human response (s), top knowledge gaps."""
        start = datetime.now(timezone.utc) - timedelta(days=days)
        rows = await self._redis("read the summary", self.client.xrange(
            self.events_key, f"{int(start.timestamp() * 1000)}-0", "+"))
        conversations, handed, by_reason, first = set(), set(), {}, []
        per_day: dict[str, list[int]] = {}
        for entry_id, fields in rows:
            event = {k.decode(): v.decode() for k, v in fields.items()}
            day = datetime.fromtimestamp(int(entry_id.decode().split("-")[0]) / 1000, timezone.utc).date().isoformat()
            counts = per_day.setdefault(day, [0, 0])
            if event["type"] == "conversation":
                conversations.add(event["id"])
                counts[0] += 1
            elif event["type"] == "handoff":
                handed.add(event["id"])
                by_reason[event.get("reason") or "unknown"] = by_reason.get(event.get("reason") or "unknown", 0) + 1
                counts[1] += 1
            elif event["type"] == "first_reply":
                first.append(float(event["seconds"]))
        gaps: dict[str, float] = {}
        for n in range(days + 1):
            day = (date.today() - timedelta(days=n)).isoformat()
            for question, count in await self._redis("read the knowledge gaps", self.client.zrevrange(
                    f"{self.prefix}:gaps:{day}", 0, 49, withscores=True)):
                gaps[question.decode()] = gaps.get(question.decode(), 0) + count
        total = len(conversations | handed)
        return {"days": days, "conversations": total, "handoffs": sum(by_reason.values()),
                "resolved_by_bot_share": round(1 - len(handed) / total, 3) if total else None,
                "handoffs_by_reason": by_reason,
                "median_first_response_s": round(statistics.median(first), 1) if first else None,
                "knowledge_gaps": [{"question": q, "count": int(c)}
                                   for q, c in sorted(gaps.items(), key=lambda kv: -kv[1])[:20]],
                "per_day": [{"date": d, "conversations": c[0], "handoffs": c[1]} for d, c in sorted(per_day.items())]}


def _short(entry: dict) -> dict:
    return {"role": entry.get("role"), "text": (entry.get("message") or {}).get("text") or "", "ts": entry.get("ts")}


def _glob_escape(text: str) -> str:
    """`text` with Redis glob characters escaped, for SCAN MATCH."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
