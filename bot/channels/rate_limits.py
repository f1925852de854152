"""Rate limits for the widget and socket.io channels, counted in Redis so
that every server process shares them (the `limits` package's moving window).

Each limit is "N per PERIOD" ("10/10 seconds"); over it, RateLimited (HTTP
429, or an error event with status 429) with the seconds until a slot frees.
"""

from __future__ import annotations

import math
import time

import redis.asyncio as redis
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from bot.channels.base import RateLimited
from bot.config import WidgetConfig
from bot.sessions.redis_client import unavailable


class RateLimits:
    def __init__(self, client: redis.Redis, prefix: str, config: WidgetConfig):
        storage = RedisStorage("async+redis://", implementation="redispy", key_prefix=f"{prefix}:limits",
                               connection_pool=client.connection_pool)
        self.limiter = MovingWindowRateLimiter(storage)
        self.limits = {"conversation": parse(config.rate_limit_conversation),
                       "ip": parse(config.rate_limit_ip),
                       "connect": parse(config.connections_per_ip)}

    async def hit(self, kind: str, identifier: str) -> None:
        """Count one event of `kind` ("conversation", "ip" or "connect") for
        `identifier`. Raises RateLimited over the limit, SessionStoreUnavailable
        when Redis does not answer."""
        limit = self.limits[kind]
        try:
            if await self.limiter.hit(limit, kind, identifier):
                return
            stats = await self.limiter.get_window_stats(limit, kind, identifier)
        except RedisError as exc:
            raise unavailable("check the rate limit", exc) from exc
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        what = {"conversation": "messages in this conversation", "ip": "messages from your address",
                "connect": "new connections from your address"}[kind]
        raise RateLimited(f"too many {what} (at most {limit}); try again in {retry} s", retry)

    async def message(self, conversation_id: str, ip: str) -> None:
        """One shopper message: counts against the conversation and the IP address."""
        await self.hit("conversation", conversation_id)
        await self.hit("ip", ip)
