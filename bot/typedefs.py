"""Typed keys for what the aiohttp app holds."""

from __future__ import annotations

import redis.asyncio as redis
from aiohttp import web

from bot.assembly import LoadedModels
from bot.channels.messages import SourceIndex
from bot.channels.outbound import Outbox
from bot.channels.rate_limits import RateLimits
from bot.channels.tokens import ConversationTokens
from bot.config import Config
from bot.console.agents import AgentStore
from bot.console.desk import HandoffDesk
from bot.console.live import ConsoleHub
from bot.pipeline import Assistant

config_key = web.AppKey("config", Config)
redis_key = web.AppKey("redis", redis.Redis)
health_redis_key = web.AppKey("health_redis", redis.Redis)  # a separate small pool for /health
models_key = web.AppKey("models", LoadedModels)
assistant_key = web.AppKey("assistant", Assistant)
# The channels' shared parts (bot/channels): the outbound path, source links, conversation tokens, rate limits.
outbox_key = web.AppKey("outbox", Outbox)
source_index_key = web.AppKey("source_index", SourceIndex)
tokens_key = web.AppKey("tokens", ConversationTokens)
rate_limits_key = web.AppKey("rate_limits", RateLimits)
# The handoff console (bot/console): conversations for people, the agents, live updates.
desk_key = web.AppKey("desk", HandoffDesk)
agents_key = web.AppKey("agents", AgentStore)
hub_key = web.AppKey("console_hub", ConsoleHub)
