"""The store's support agents: names, roles and password hashes, in Redis.

    P:console-agents     hash: name -> JSON {"role", "hash" (argon2id, argon2-cffi), "created_at",
                         "version"} ("version" goes up with each new password, which logs the
                         agent's open sessions out)
    P:login-failures:{kind}:{key}   login attempts not yet proven good, for one name or one address
                         (expires)

Roles: "admin" (everything, including agents, canned responses and deleting
a shopper's data) and "agent" (the queue and conversations). Kept in Redis so
every server process, on any machine, sees the same agents.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass

import redis.asyncio as redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import RedisError

from bot.sessions.redis_client import unavailable

ADMIN, AGENT = "admin", "agent"
ROLES = (ADMIN, AGENT)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10  # characters


class AgentError(ValueError):
    """A name, role or password that cannot be used, or an unknown agent."""


@dataclass(frozen=True)
class Agent:
    name: str
    role: str
    version: int = 1
    created_at: float = 0.0

    def public(self) -> dict:
        return {"name": self.name, "role": self.role, "created_at": self.created_at}


class AgentStore:
    """Agents in Redis. Hashing and checking passwords runs in a thread (argon2 takes ~50 ms of CPU
    by design). Raises SessionStoreUnavailable when Redis does not answer."""

    def __init__(self, client: redis.Redis, prefix: str = "shopkeep"):
        self.client = client
        self.key = f"{prefix}:console-agents"
        self.failures_prefix = f"{prefix}:login-failures"
        self.hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
        self._dummy = self.hasher.hash("not a password of anyone")  # for unknown names: same work

    async def _raw(self, name: str) -> dict | None:
        try:
            raw = await self.client.hget(self.key, name)
        except RedisError as exc:
            raise unavailable("read the agent", exc) from exc
        return json.loads(raw) if raw else None

    async def get(self, name: str) -> Agent | None:
        raw = await self._raw(name)
        return None if raw is None else Agent(name, raw["role"], raw.get("version", 1), raw.get("created_at", 0.0))

    async def list(self) -> list[Agent]:
        try:
            raw = await self.client.hgetall(self.key)
        except RedisError as exc:
            raise unavailable("list the agents", exc) from exc
        agents = [Agent(k.decode(), v["role"], v.get("version", 1), v.get("created_at", 0.0))
                  for k, v in ((k, json.loads(v)) for k, v in raw.items())]
        return sorted(agents, key=lambda a: a.name)

    @staticmethod
    def check(name: str, password: str | None = None, role: str | None = None) -> None:
        """AgentError for a name, password or role that cannot be used."""
        if not NAME.match(name or ""):
            raise AgentError("an agent name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
                             "letter or digit")
        if password is not None and len(password) < MIN_PASSWORD:
            raise AgentError(f"a password needs at least {MIN_PASSWORD} characters")
        if role is not None and role not in ROLES:
            raise AgentError(f"role must be {' or '.join(ROLES)}, got {role!r}")

    async def add(self, name: str, password: str, role: str = AGENT) -> Agent:
        """A new agent. AgentError when the name is taken or anything is unusable."""
        self.check(name, password, role)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        record = {"role": role, "hash": hashed, "created_at": time.time(), "version": 1}
        try:
            added = await self.client.hsetnx(self.key, name, json.dumps(record))
        except RedisError as exc:
            raise unavailable("add the agent", exc) from exc
        if not added:
            raise AgentError(f"there is already an agent called {name}")
        return Agent(name, role, 1, record["created_at"])

    async def set_password(self, name: str, password: str) -> None:
        """A new password; the agent's open sessions end. AgentError for an unknown agent."""
        self.check(name, password)
        raw = await self._raw(name)
        if raw is None:
            raise AgentError(f"no agent called {name}")
        raw.update(hash=await asyncio.to_thread(self.hasher.hash, password), version=raw.get("version", 1) + 1)
        await self._write(name, raw)

    async def set_role(self, name: str, role: str) -> None:
        self.check(name, role=role)
        raw = await self._raw(name)
        if raw is None:
            raise AgentError(f"no agent called {name}")
        raw["role"] = role
        await self._write(name, raw)

    async def _write(self, name: str, raw: dict) -> None:
        try:
            await self.client.hset(self.key, name, json.dumps(raw))
        except RedisError as exc:
            raise unavailable("save the agent", exc) from exc

    async def remove(self, name: str) -> bool:
        """Remove the agent (their sessions end at their next request). False when there was none."""
        try:
            return bool(await self.client.hdel(self.key, name))
        except RedisError as exc:
            raise unavailable("remove the agent", exc) from exc

    async def verify(self, name: str, password: str) -> Agent | None:
        """The agent when `password` is theirs, else None (the same work is done for an unknown name)."""
        raw = await self._raw(name) if NAME.match(name or "") else None
        hashed = raw["hash"] if raw else self._dummy

        def check() -> bool:
            try:
                return self.hasher.verify(hashed, password)
            except (VerificationError, InvalidHashError):
                return False

        if not await asyncio.to_thread(check) or raw is None:
            return None
        if self.hasher.check_needs_rehash(hashed):  # the library's parameters got stronger
            raw["hash"] = await asyncio.to_thread(self.hasher.hash, password)
            await self._write(name, raw)
        return Agent(name, raw["role"], raw.get("version", 1), raw.get("created_at", 0.0))

    # -- failed logins ------------------------------------------------------

    def _failure_keys(self, name: str, address: str) -> list[str]:
        return [f"{self.failures_prefix}:name:{name.casefold()}", f"{self.failures_prefix}:ip:{address}"]

    async def attempt(self, name: str, address: str, window_s: int) -> tuple[int, float]:
        """Count a login attempt for the name and for the address before its password is checked, so
        that guesses sent in parallel are counted too. Returns (the larger count, seconds until it
        expires). Each count lasts `window_s` from its first attempt; `succeeded` takes a good login's
        attempt back."""
        keys = self._failure_keys(name, address)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.set(key, 0, ex=window_s, nx=True)  # the window starts at the first attempt
                    pipe.incr(key)  # (keeps the expiry)
                    pipe.ttl(key)
                values = await pipe.execute()
        except RedisError as exc:
            raise unavailable("count the login attempt", exc) from exc
        return max((values[1], max(0, values[2])), (values[4], max(0, values[5])))

    async def succeeded(self, name: str, address: str) -> None:
        """A good login clears the name's count and takes its attempt back from the address's (one
        office address where many agents log in is not locked; one address guessing many names is)."""
        name_key, address_key = self._failure_keys(name, address)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(name_key)
                pipe.decr(address_key)
                await pipe.execute()
        except RedisError as exc:
            raise unavailable("clear the failed logins", exc) from exc
