"""A per-conversation ticket lock in Redis, with a renewed lease.

Messages of one conversation must be handled one after the other, in the order
they arrived, even when several server processes share the Redis. A plain
mutex gives mutual exclusion but not order, so this is a ticket lock (like
Rasa's lock store): each message takes the next ticket, and the holder of the
ticket being served runs.

Keys, all under <prefix>:lock:<sender>:
  next     the last ticket handed out (INCR)
  serving  the ticket whose turn it is
  held     the ticket holding the lock, with a short lease (`lease_s`) that
           the holder renews every lease_s / 3 while its turn runs: a slow
           but live turn keeps the lock, a crashed process's lock lapses
           within lease_s
  gone     tickets whose waiters gave up, so nobody waits for them
  tokens   waiter token -> ticket. Taking a ticket is idempotent per token,
           so a command that timed out but still ran once a stalled Redis
           resumed does not leave a ticket that nobody holds; a waiter that
           gives up before its ticket was taken marks its token -1

When a holder releases, the next ticket gets a short reservation (`grace_s`):
its waiter is polling and will take it; if that waiter died, the reservation
lapses and the ticket after it goes.

A failed release or give-up (Redis unreachable) is retried in the background
until it lands, so a fault never holds a conversation for longer than the
fault itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.sessions.redis_client import unavailable

log = logging.getLogger(__name__)

# KEYS: next, serving, held, gone, tokens. ARGV: lease_ms, idle_s, grace_ms, token
# Returns {ticket, state}: 1 = acquired, 0 = wait, -1 = skipped (too slow: take a new token),
# -2 = this token was given up.
_TRY = """
local ticket = redis.call('HGET', KEYS[5], ARGV[4])
if not ticket then
  ticket = redis.call('INCR', KEYS[1])
  redis.call('HSET', KEYS[5], ARGV[4], ticket)
else
  ticket = tonumber(ticket)
  if ticket < 0 then
    return {ticket, -2}
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[5], ARGV[2])
local serving = tonumber(redis.call('GET', KEYS[2]) or '0')
if serving == 0 then
  -- nothing served yet (or state expired while idle): start at this ticket
  serving = ticket
  redis.call('SET', KEYS[2], serving, 'EX', ARGV[2])
end
if serving == ticket then
  local held = redis.call('GET', KEYS[3])
  if (not held) or tonumber(held) == ticket then
    redis.call('SET', KEYS[3], ticket, 'PX', ARGV[1])
    redis.call('EXPIRE', KEYS[2], ARGV[2])
    return {ticket, 1}
  end
  return {ticket, 0}
end
if serving > ticket then
  return {ticket, -1}
end
if redis.call('EXISTS', KEYS[3]) == 0 or redis.call('HEXISTS', KEYS[4], serving) == 1 then
  -- the ticket being served has no live holder or was given up: skip it
  redis.call('HDEL', KEYS[4], serving)
  redis.call('SET', KEYS[2], serving + 1, 'EX', ARGV[2])
  redis.call('SET', KEYS[3], serving + 1, 'PX', ARGV[3])
  redis.call('EXPIRE', KEYS[4], ARGV[2])
end
return {ticket, 0}
"""

# KEYS: serving, held, gone, tokens. ARGV: token, idle_s, grace_ms, abandon (1 = the waiter gives up)
# Returns 1 when the lock was passed on, else 0. Safe to run more than once.
_RELEASE = """
local ticket = redis.call('HGET', KEYS[4], ARGV[1])
if not ticket then
  if ARGV[4] == '1' then
    -- given up before the ticket was taken: a late attempt to take it must not
    redis.call('HSET', KEYS[4], ARGV[1], -1)
    redis.call('EXPIRE', KEYS[4], ARGV[2])
  end
  return 0
end
ticket = tonumber(ticket)
if ticket < 0 then
  return 0
end
redis.call('HDEL', KEYS[4], ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '-1') == ticket then
  redis.call('SET', KEYS[1], ticket + 1, 'EX', ARGV[2])
  redis.call('SET', KEYS[2], ticket + 1, 'PX', ARGV[3])
  return 1
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[3], ticket, 1)
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
return 0
"""

# KEYS: held. ARGV: ticket, lease_ms. Returns 1 if the lease was renewed, 0 if the lock is no longer ours.
_RENEW = """
if tonumber(redis.call('GET', KEYS[1]) or '-1') == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class LockTimeout(Exception):
    """The conversation stayed busy for longer than the wait allows."""


@dataclass
class Held:
    """The lock of one turn: `fence` lets a save check the turn still holds it."""

    key: str
    ticket: int
    lost: bool = False  # a renewal found the lease had lapsed (Redis stalled longer than lease_s)

    @property
    def fence(self) -> tuple[str, int]:
        return self.key, self.ticket


class ConversationLock:
    """Ticket locks for conversations.

    lease_s: how long a lock outlives its holder's last renewal (a crashed
      process's conversation waits at most this long).
    wait_s: how long a message waits for its turn before LockTimeout.
    grace_s: how long a released lock is reserved for the next ticket's waiter.
    Redis failures raise SessionStoreUnavailable (bot.sessions.redis_client).
    """

    def __init__(self, client: redis.Redis, prefix: str = "shopkeep", lease_s: float = 10.0,
                 wait_s: float = 30.0, grace_s: float = 2.0, poll_s: float = 0.01):
        self.prefix = prefix
        self.lease_s = lease_s
        self.lease_ms = max(1, int(lease_s * 1000))
        self.wait_s = wait_s
        self.grace_ms = int(grace_s * 1000)
        self.idle_s = int(max(lease_s * 10, 3600))
        self.poll_s = poll_s
        self._try = client.register_script(_TRY)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._background: set[asyncio.Task] = set()

    def _keys(self, sender_id: str) -> list[str]:
        base = f"{self.prefix}:lock:{sender_id}"
        return [f"{base}:next", f"{base}:serving", f"{base}:held", f"{base}:gone", f"{base}:tokens"]

    async def _acquire(self, sender_id: str, keys: list[str], token: str) -> tuple[int, str]:
        """(ticket, token) once this message's turn has come."""
        args = [self.lease_ms, self.idle_s, self.grace_ms]
        deadline = time.monotonic() + self.wait_s
        delay = self.poll_s
        while True:
            ticket, state = await self._try(keys=keys, args=[*args, token])
            if state == 1:
                return ticket, token
            if state == -1:
                log.warning("conversation %s: ticket %s was skipped while waiting; queueing again",
                            sender_id, ticket)
                token = uuid.uuid4().hex
                continue
            if state == -2:
                raise LockTimeout(f"conversation {sender_id}: this message's place was given up")
            if time.monotonic() > deadline:
                raise LockTimeout(f"conversation {sender_id} is busy; waited {self.wait_s:.0f} s")
            await asyncio.sleep(delay)
            # at most 25 ms between polls: a conversation's queued messages follow each other closely
            # (at 100 ms, ten messages sent at once took 10 times as long as ten sent one by one)
            delay = min(delay * 1.5, 0.025)

    @asynccontextmanager
    async def hold(self, sender_id: str) -> AsyncIterator[Held]:
        """Wait for this conversation's turn; yields the Held lock.

        Raises LockTimeout after wait_s, SessionStoreUnavailable when Redis
        fails. Whatever happens, the ticket is given back (retried in the
        background while Redis is unreachable)."""
        keys = self._keys(sender_id)
        token = uuid.uuid4().hex
        try:
            ticket, token = await self._acquire(sender_id, keys, token)
        except (RedisError, LockTimeout, asyncio.CancelledError) as exc:
            self._give_back(sender_id, keys, token, abandon=True)
            if isinstance(exc, RedisError):
                raise unavailable("lock the conversation", exc) from exc
            raise
        held = Held(keys[2], ticket)
        renewal = asyncio.create_task(self._keep_renewed(sender_id, held))
        failed = True
        try:
            yield held
            failed = False
        finally:
            renewal.cancel()
            if failed:
                # the turn failed (often because Redis did): do not make the reply wait on Redis too
                self._give_back(sender_id, keys, token, abandon=False)
            else:
                try:
                    await self._release(keys=keys[1:], args=[token, self.idle_s, self.grace_ms, 0])
                except RedisError as exc:
                    log.warning("conversation %s: releasing the lock failed (%s); retrying in the background",
                                sender_id, exc)
                    self._give_back(sender_id, keys, token, abandon=False)

    async def _keep_renewed(self, sender_id: str, held: Held) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                if not await self._renew(keys=[held.key], args=[held.ticket, self.lease_ms]):
                    held.lost = True
                    log.warning("conversation %s: the lock's lease lapsed during the turn", sender_id)
                    return
            except RedisError as exc:
                log.warning("conversation %s: could not renew the lock's lease: %s", sender_id, exc)

    def _give_back(self, sender_id: str, keys: list[str], token: str, abandon: bool) -> None:
        """Release (or, for a waiter, give up) in the background, retrying until it lands."""
        task = asyncio.get_running_loop().create_task(self._give_back_retrying(sender_id, keys, token, abandon))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _give_back_retrying(self, sender_id: str, keys: list[str], token: str, abandon: bool) -> None:
        # Keep trying for as long as the lock's keys live: giving up earlier leaves a ticket that
        # nobody will take, and every such ticket costs the conversation grace_s once Redis is back
        # (measured: a 15 s pause left conversations stuck 10 s when retries stopped after the lease).
        give_up_at = time.monotonic() + self.idle_s
        delay = 0.05
        while True:
            try:
                await self._release(keys=keys[1:], args=[token, self.idle_s, self.grace_ms, int(abandon)])
                return
            except RedisError as exc:
                if time.monotonic() > give_up_at:
                    log.error("conversation %s: could not give the lock back (%s); its keys have expired",
                              sender_id, exc)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def drain(self, timeout_s: float = 2.0) -> None:
        """Before shutting down: wait up to timeout_s for background releases,
        then stop the rest (their tickets lapse by themselves)."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout_s)
        for task in list(self._background):
            task.cancel()
