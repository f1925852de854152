"""A per-conversation ticket lock in Redis.

Messages of one conversation must be handled one after the other, in the order
they arrived, even when several server processes share the Redis. A plain
mutex gives mutual exclusion but not order, so this is a ticket lock (like
Rasa's lock store): each message takes the next ticket, and the holder of the
ticket being served runs.

Keys, all under <prefix>:lock:<sender>:
  next     the last ticket handed out (INCR)
  serving  the ticket whose turn it is
  held     the ticket holding the lock, with a lease: if a worker dies, the
           lease runs out and the next ticket may go
  gone     tickets whose waiters gave up, so nobody waits for them

When a holder releases, the next ticket gets a short reservation (`grace_s`):
its waiter is polling and will take it; if that waiter died, the reservation
lapses and the ticket after it goes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.sessions.store import SessionStoreUnavailable

log = logging.getLogger(__name__)

# KEYS: next, serving, held, gone. ARGV: lifetime_ms, idle_s, grace_ms, ticket (0 = take a new one)
# Returns {ticket, state}: state 1 = acquired, 0 = wait, -1 = skipped (too slow; take a new ticket).
_TRY = """
local ticket = tonumber(ARGV[4])
if ticket == 0 then
  ticket = redis.call('INCR', KEYS[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
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

# KEYS: serving, held, gone. ARGV: ticket, idle_s, grace_ms, abandon (1 = waiter gives up)
_RELEASE = """
local ticket = tonumber(ARGV[1])
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


class LockTimeout(Exception):
    """The conversation stayed busy for longer than the wait allows."""


class ConversationLock:
    def __init__(self, client: redis.Redis, prefix: str = "shopkeep", lifetime_s: float = 60.0,
                 wait_s: float = 30.0, grace_s: float = 5.0, poll_s: float = 0.01):
        self.prefix = prefix
        self.lifetime_ms = int(lifetime_s * 1000)
        self.wait_s = wait_s
        self.grace_ms = int(grace_s * 1000)
        self.idle_s = int(max(lifetime_s * 10, 3600))
        self.poll_s = poll_s
        self._try = client.register_script(_TRY)
        self._release = client.register_script(_RELEASE)

    def _keys(self, sender_id: str) -> list[str]:
        base = f"{self.prefix}:lock:{sender_id}"
        return [f"{base}:next", f"{base}:serving", f"{base}:held", f"{base}:gone"]

    @asynccontextmanager
    async def hold(self, sender_id: str) -> AsyncIterator[int]:
        """Wait for this conversation's turn; yields the ticket."""
        keys = self._keys(sender_id)
        args = [self.lifetime_ms, self.idle_s, self.grace_ms]
        deadline = time.monotonic() + self.wait_s
        ticket, delay = 0, self.poll_s
        try:
            while True:
                ticket, state = await self._try(keys=keys, args=[*args, ticket])
                if state == 1:
                    break
                if state == -1:
                    log.warning("conversation %s: ticket %s was skipped while waiting; queueing again",
                                sender_id, ticket)
                    ticket = 0
                    continue
                if time.monotonic() > deadline:
                    await self._release(keys=keys[1:], args=[ticket, self.idle_s, self.grace_ms, 1])
                    raise LockTimeout(f"conversation {sender_id} is busy; waited {self.wait_s:.0f} s")
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.1)
        except RedisError as exc:
            raise SessionStoreUnavailable(f"could not lock conversation: {exc}") from exc
        try:
            yield ticket
        finally:
            try:
                await self._release(keys=keys[1:], args=[ticket, self.idle_s, self.grace_ms, 0])
            except RedisError as exc:
                # The lease runs out by itself; the next message waits at most lifetime_s.
                log.error("conversation %s: could not release lock: %s", sender_id, exc)
