"""Sessions in Redis: one JSON value for the state, one list for the history.

A turn is saved in one MULTI/EXEC transaction, so a conversation is never left
half-written: either the state and every event of the turn land, or none do.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import redis.asyncio as redis
from redis.exceptions import RedisError


class SessionStoreUnavailable(Exception):
    """Redis could not be reached or answered with an error."""


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
        data = asdict(self)
        del data["history"], data["new_events"]
        return data


class SessionStore:
    def __init__(self, client: redis.Redis, prefix: str = "shopkeep", ttl_s: int = 86400, history_limit: int = 200):
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.history_limit = history_limit

    def _keys(self, sender_id: str) -> tuple[str, str]:
        return f"{self.prefix}:session:{sender_id}", f"{self.prefix}:history:{sender_id}"

    async def load(self, sender_id: str) -> Session:
        state_key, history_key = self._keys(sender_id)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                raw, history = await pipe.get(state_key).lrange(history_key, -self.history_limit, -1).execute()
        except RedisError as exc:
            raise SessionStoreUnavailable(f"could not load session: {exc}") from exc
        session = Session(**json.loads(raw)) if raw else Session(sender_id=sender_id)
        session.history = [json.loads(e) for e in history]
        return session

    async def save(self, session: Session) -> None:
        state_key, history_key = self._keys(session.sender_id)
        session.updated_at = time.time()
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(state_key, json.dumps(session.state()), ex=self.ttl_s)
                if session.new_events:
                    pipe.rpush(history_key, *[json.dumps(e, ensure_ascii=False) for e in session.new_events])
                    pipe.ltrim(history_key, -self.history_limit, -1)
                pipe.expire(history_key, self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            raise SessionStoreUnavailable(f"could not save session: {exc}") from exc
        session.history.extend(session.new_events)
        session.new_events = []

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False
