"""The aiohttp application: one factory, used by `shopkeep run` and the tests."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as redis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from bot.assembly import LoadedModels, load_models
from bot.channels.rest import setup_rest_channel
from bot.config import Config
from bot.dialogue.custom_actions import InProcessActions, RemoteActions
from bot.dialogue.engine import Dialogue
from bot.pipeline import Assistant
from bot.sessions.embedded_redis import EmbeddedRedis
from bot.sessions.lock import ConversationLock
from bot.sessions.store import SessionStore
from bot.typedefs import assistant_key, config_key, models_key, redis_key

log = logging.getLogger(__name__)


async def redis_context(app: web.Application):
    """Connect to REDIS_URL, or start the embedded Redis under the data directory.

    An unreachable Redis does not stop the server: /health reports it and
    messages get 503 until it is back.
    """
    config = app[config_key]
    embedded = None
    url = config.sessions.redis_url
    if not url:
        embedded = EmbeddedRedis(config.data_dir / "redis")
        url = await asyncio.to_thread(embedded.start)
    client = redis.from_url(url, socket_timeout=5, socket_connect_timeout=2,
                            retry=Retry(ExponentialBackoff(cap=0.5), 2), health_check_interval=30)
    app[redis_key] = client
    yield
    await client.aclose()
    if embedded:
        await asyncio.to_thread(embedded.stop)


def models_context(preloaded: LoadedModels | None):
    async def context(app: web.Application):
        # Loading trains the intent model if its data changed and may join
        # split model files: seconds to minutes, so never on the event loop.
        app[models_key] = preloaded or await asyncio.to_thread(load_models, app[config_key])
        yield
        generator = app[models_key].answerer.generator
        if generator is not None and preloaded is None:
            generator.close()
    return context


async def assistant_context(app: web.Application):
    config, models, client = app[config_key], app[models_key], app[redis_key]
    if config.actions.endpoint:
        actions = RemoteActions(config.actions.endpoint, config.actions.timeout_s)
        await actions.discover()
    else:
        actions = InProcessActions(config.actions.package)
    app[assistant_key] = Assistant(
        interpreter=models.interpreter,
        dialogue=Dialogue(models.domain, models.rules, actions, models.answerer),
        sessions=SessionStore(client, config.sessions.key_prefix, config.sessions.ttl_s,
                              config.sessions.history_limit),
        locks=ConversationLock(client, config.sessions.key_prefix, config.sessions.lock_lifetime_s,
                               config.sessions.lock_wait_s),
    )
    yield
    await actions.close()


async def health(request: web.Request) -> web.Response:
    app = request.app
    redis_ok = await app[assistant_key].sessions.ping()
    models = app[models_key]
    body = {
        "status": "ok" if redis_ok else "unavailable",
        "redis": "ok" if redis_ok else "unreachable",
        "models": {
            "intents": f"ready ({len(models.interpreter.intents)} intents)",
            "knowledge": f"ready ({len(models.answerer.retriever.passages)} passages)",
            "lm": models.lm_status,
        },
    }
    return web.json_response(body, status=200 if redis_ok else 503)


def init_app(config: Config, models: LoadedModels | None = None) -> web.Application:
    """The bot's web application. `models` lets tests share loaded models between apps."""
    app = web.Application(client_max_size=config.server.max_body_bytes)
    app[config_key] = config
    app.cleanup_ctx.extend([redis_context, models_context(models), assistant_context])
    app.router.add_get("/health", health)
    setup_rest_channel(app)
    return app
