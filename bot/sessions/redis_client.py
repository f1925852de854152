"""The Redis client every session operation goes through, and what its errors mean.

One bounded, blocking connection pool per process: when every connection is
busy, a command waits (up to `pool_timeout_s`) for one to come back instead
of failing, so a burst of turns slows down rather than getting errors. redis-py's
default async pool instead raises "Too many connections" past 100
(measured: 27% of turns failed at 150 concurrent conversations).

Connection errors (a restarted Redis breaks the pooled sockets) are retried
once on a fresh connection; timeouts are not retried, because a command that
timed out may still run once a stalled Redis resumes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Why a session operation failed, as reported to clients and in /health.
POOL_EXHAUSTED = "pool_exhausted"  # every connection of this process stayed busy for pool_timeout_s
TIMEOUT = "timeout"  # Redis took longer than command_timeout_s to answer (stalled or overloaded)
DOWN = "down"  # no connection could be made (Redis stopped, restarting or unreachable)
ERROR = "error"  # Redis answered with an error (out of memory, a read-only replica, ...)


class SessionStoreUnavailable(Exception):
    """Redis could not serve a session operation. `reason` is one of
    POOL_EXHAUSTED, TIMEOUT, DOWN, ERROR."""

    def __init__(self, message: str, reason: str = ERROR):
        super().__init__(message)
        self.reason = reason


def reason_of(exc: BaseException) -> str:
    """The kind of a Redis failure (see the constants above)."""
    if isinstance(exc, RedisConnectionError) and "No connection available" in str(exc):
        return POOL_EXHAUSTED  # BlockingConnectionPool's wait ran out
    if isinstance(exc, MaxConnectionsError):
        return POOL_EXHAUSTED  # a non-blocking pool's limit
    if isinstance(exc, (RedisTimeoutError, TimeoutError)):  # asyncio's TimeoutError is TimeoutError
        return TIMEOUT
    if isinstance(exc, (RedisConnectionError, OSError)):
        return DOWN
    return ERROR


def unavailable(what: str, exc: BaseException) -> SessionStoreUnavailable:
    """A SessionStoreUnavailable for a failed `what` ("load the session"), with its reason."""
    reason = reason_of(exc)
    explained = {
        POOL_EXHAUSTED: "no Redis connection came free in time (all were busy: heavy load, or Redis is stalled)",
        TIMEOUT: "Redis did not answer in time",
        DOWN: "Redis is unreachable",
        ERROR: "Redis answered with an error",
    }[reason]
    return SessionStoreUnavailable(f"could not {what}: {explained} ({exc})", reason)


def connect(url: str, pool_size: int = 50, pool_timeout_s: float = 5.0,
            command_timeout_s: float = 2.0) -> redis.Redis:
    """A client on a pool of at most `pool_size` connections to `url`.

    Commands wait up to `pool_timeout_s` for a free connection (then raise
    redis ConnectionError "No connection available.") and up to
    `command_timeout_s` for Redis's answer (then raise redis TimeoutError).
    """
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=pool_timeout_s,
        socket_timeout=command_timeout_s,
        socket_connect_timeout=min(command_timeout_s, 2.0),
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


def health_client(url: str, timeout_s: float = 0.5) -> redis.Redis:
    """A separate two-connection client for /health, so a health check never
    queues behind turns for a connection and answers within `timeout_s`."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=2, timeout=timeout_s,
                                                 socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                                 retry=Retry(ExponentialBackoff(), 0))
    return redis.Redis(connection_pool=pool)


async def follow(client: redis.Redis, channels: tuple[str, ...], handle: Callable[[str, str], Awaitable[None]],
                 subscribed: asyncio.Event, stopping: Callable[[], bool], what: str,
                 on_subscribed: Callable[[], None] = lambda: None) -> None:
    """Pass every message published on `channels` to `handle(channel, data)`, for as long as the
    task runs. A lost subscription (Redis restarted or unreachable) is made again, backing off from
    0.1 to 2 s; `subscribed` is set while it is live, and `on_subscribed` runs each time it is made
    (to catch up on what was published meanwhile). Ends when `stopping()` after a failure (redis-py
    can turn a cancellation inside a read into a ConnectionError)."""
    backoff = 0.1
    while True:
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(*channels)
                subscribed.set()
                backoff = 0.1
                on_subscribed()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "message":
                        await handle(message["channel"].decode(), message["data"].decode())
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            subscribed.clear()
            if stopping():
                return
            log.warning("%s: lost the Redis subscription (%s: %s); retrying in %.1f s", what, type(exc).__name__, exc,
                        backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)


__all__ = ["SessionStoreUnavailable", "connect", "follow", "health_client", "reason_of", "unavailable",
           "POOL_EXHAUSTED", "TIMEOUT", "DOWN", "ERROR"]
