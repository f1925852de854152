"""Sessions in Redis: one JSON value for the state, one list for the history.

A turn is saved by one Lua script, which Redis runs atomically, so a
conversation is never left half-written: either the state and every event of
the turn land, or none do. The script also
  - refuses the save when the turn no longer holds the conversation's lock
    (its lease ran out while Redis stalled, and a later turn may have started),
  - saves a turn once even if the save is sent twice (a retried command whose
    first answer was lost).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, fields

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.sessions.redis_client import SessionStoreUnavailable, unavailable

LOCK_LOST = "lock_lost"  # SessionStoreUnavailable.reason when the turn's lock lapsed before its save

# KEYS: state, history, saved (the last saved turn's id), held (the lock's holder; "" = no lock)
# ARGV: turn id, fence ticket ("" = none), state JSON, ttl_s, history limit, events...
# Returns 1 (saved, or saved before), 0 (the lock is no longer this turn's: nothing saved).
_SAVE = """
if redis.call('GET', KEYS[3]) == ARGV[1] then
  return 1
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
if #ARGV > 5 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[4])
return 1
"""


@dataclass
class Session:
    sender_id: str
    slots: dict = field(default_factory=dict)
    active_form: str | None = None
    requested_slot: str | None = None
    handoff: dict | None = None  # {"since": timestamp, "reason": str} while a person has the conversation
    latest_action: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    history: list[dict] = field(default_factory=list)  # events saved by earlier turns
    new_events: list[dict] = field(default_factory=list)  # events of this turn, saved with it

    def record(self, event: dict) -> None:
        event.setdefault("timestamp", time.time())
        self.new_events.append(event)

    @property
    def events(self) -> list[dict]:
        return self.history + self.new_events

    def state(self) -> dict:
        """The fields saved as the state value: everything but the events
        (copied shallowly; asdict would deep-copy the whole history each turn)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("history", "new_events")}


class SessionStore:
    def __init__(self, client: redis.Redis, prefix: str = "shopkeep", ttl_s: int = 86400, history_limit: int = 200):
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.history_limit = history_limit
        self._save = client.register_script(_SAVE)

    def _keys(self, sender_id: str) -> tuple[str, str]:
        return f"{self.prefix}:session:{sender_id}", f"{self.prefix}:history:{sender_id}"

    async def load(self, sender_id: str) -> Session:
        state_key, history_key = self._keys(sender_id)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                raw, history = await pipe.get(state_key).lrange(history_key, -self.history_limit, -1).execute()
        except RedisError as exc:
            raise unavailable("load the session", exc) from exc
        session = Session(**json.loads(raw)) if raw else Session(sender_id=sender_id)
        session.history = [json.loads(e) for e in history]
        return session

    async def handed_off(self, sender_id: str) -> bool:
        """Whether a person has the conversation (the bot is paused), without reading its history.
        Raises SessionStoreUnavailable."""
        try:
            raw = await self.client.get(self._keys(sender_id)[0])
        except RedisError as exc:
            raise unavailable("load the session", exc) from exc
        return bool(raw and json.loads(raw).get("handoff"))

    async def save(self, session: Session, fence: tuple[str, int] | None = None) -> None:
        """Save the state and the turn's new events in one step.

        `fence` is (the lock's holder key, this turn's ticket): the save only
        happens while that ticket still holds the lock. Raises
        SessionStoreUnavailable (reason LOCK_LOST when the fence failed)."""
        state_key, history_key = self._keys(session.sender_id)
        session.updated_at = time.time()
        held_key, ticket = fence or ("", "")
        keys = [state_key, history_key, f"{self.prefix}:saved:{session.sender_id}", held_key or state_key]
        args = [uuid.uuid4().hex, ticket, json.dumps(session.state()), self.ttl_s, self.history_limit,
                *[json.dumps(e, ensure_ascii=False) for e in session.new_events]]
        try:
            saved = await self._save(keys=keys, args=args)
        except RedisError as exc:
            raise unavailable("save the session", exc) from exc
        if not saved:
            raise SessionStoreUnavailable("could not save the session: the turn's lock lapsed while Redis was "
                                          "slow, so a later turn may have started; nothing was saved", LOCK_LOST)
        session.history.extend(session.new_events)
        session.new_events = []

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False


__all__ = ["LOCK_LOST", "Session", "SessionStore", "SessionStoreUnavailable"]
