"""Typed keys for what the aiohttp app holds."""

from __future__ import annotations

import redis.asyncio as redis
from aiohttp import web

from bot.assembly import LoadedModels
from bot.config import Config
from bot.pipeline import Assistant

config_key = web.AppKey("config", Config)
redis_key = web.AppKey("redis", redis.Redis)
health_redis_key = web.AppKey("health_redis", redis.Redis)  # a separate small pool for /health
models_key = web.AppKey("models", LoadedModels)
assistant_key = web.AppKey("assistant", Assistant)
