"""The aiohttp application: one factory, used by `shopkeep run` and the tests."""

from __future__ import annotations

import asyncio
import logging
import os
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp_remotes import XForwardedStrict
from redis.exceptions import RedisError

from bot.assembly import LM_DEFERRED, LoadedModels, load_models
from bot.channels.messages import SourceIndex
from bot.channels.messaging import setup_messaging_channels
from bot.channels.outbound import Outbox
from bot.channels.rate_limits import RateLimits
from bot.channels.rest import setup_rest_channel
from bot.channels.socketio import setup_socketio_channel
from bot.channels.tokens import ConversationTokens
from bot.channels.webhooks import messaging_key
from bot.channels.widget import setup_widget_channel
from bot.config import Config, secret_key
from bot.console.api import setup_console
from bot.console.desk import HandoffDesk, transcript_ttl_s
from bot.console.hours import SupportHours
from bot.dialogue.custom_actions import InProcessActions, NoActions, RemoteActions
from bot.dialogue.engine import Dialogue
from bot.pipeline import Assistant
from bot.sessions.embedded_redis import EmbeddedRedis
from bot.sessions.lock import ConversationLock
from bot.sessions.redis_client import connect, health_client, reason_of
from bot.sessions.store import SessionStore
from bot.typedefs import (
    assistant_key,
    config_key,
    health_redis_key,
    models_key,
    outbox_key,
    rate_limits_key,
    redis_key,
    source_index_key,
    tokens_key,
)
from knowledge.catalog import load_catalog

# Query parameters that are credentials (the widget's conversation token): masked in the access log.
SECRET_QUERY = re.compile(r"((?:^|[?&])token)=[^&]*")
HEALTH_TIMEOUT_S = 0.8  # /health answers within a second even while Redis stalls

log = logging.getLogger(__name__)


class AccessLog(AbstractAccessLogger):
    """One line per request, as aiohttp's own access log, with conversation
    tokens in URLs masked (they resume a conversation for 30 days)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = SECRET_QUERY.sub(r"\1=***", request.path_qs)
        self.logger.info('%s "%s %s HTTP/%d.%d" %d %s %.3fs "%s"', request.remote, request.method, path,
                         request.version.major, request.version.minor, response.status, response.body_length,
                         time, request.headers.get("User-Agent", "-"))


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
    sessions = config.sessions
    client = connect(url, sessions.pool_size, sessions.pool_timeout_s, sessions.command_timeout_s)
    app[redis_key] = client
    app[health_redis_key] = health_client(url, HEALTH_TIMEOUT_S / 2)
    yield
    await client.aclose()
    await app[health_redis_key].aclose()
    if embedded:
        await asyncio.to_thread(embedded.stop)


def models_context(preloaded: LoadedModels | None):
    async def context(app: web.Application):
        # Loading trains the intent model if its data changed and may join
        # split model files: seconds to minutes, so never on the event loop.
        models = preloaded or await asyncio.to_thread(load_models, app[config_key])
        owns_generator = preloaded is None or models.lm_status == LM_DEFERRED
        if models.lm_status == LM_DEFERRED:  # a worker forked from a parent that loaded the rest
            await asyncio.to_thread(models.attach_generator, app[config_key])
        if preloaded is None:  # (a forked worker's parent has done it)
            # so that the first shopper's question does not wait seconds for the spelling dictionary
            await asyncio.to_thread(models.answerer.warm_up)
        app[models_key] = models
        yield
        generator = models.answerer.generator
        if generator is not None and owns_generator:
            generator.close()
    return context


async def assistant_context(app: web.Application):
    config, models, client = app[config_key], app[models_key], app[redis_key]
    if config.actions.endpoint:
        actions = RemoteActions(config.actions.endpoint, config.actions.timeout_s)
        await actions.discover()
    elif config.actions.package and config.actions.root:
        try:  # a Rasa project's own actions/: its code may need packages shopkeep does not have
            actions = InProcessActions(config.actions.package, config.actions.root)
        except Exception as exc:
            log.error("the project's actions in %s could not be loaded (%s: %s): its custom actions will fail; "
                      "run them on their own action server (endpoints.yml action_endpoint or ACTION_ENDPOINT)",
                      config.actions.root, type(exc).__name__, exc)
            actions = NoActions()
    elif config.actions.package:
        actions = InProcessActions(config.actions.package)
    else:
        actions = NoActions()
    console = config.console
    app[assistant_key] = Assistant(
        interpreter=models.interpreter,
        dialogue=Dialogue(models.domain, models.policy, actions, models.answerer,
                          hours=SupportHours.parse(console.support_hours, console.timezone),
                          negative_sentiment=console.negative_sentiment_handoff,
                          unanswered=console.unanswered_handoff),
        sessions=SessionStore(client, config.sessions.key_prefix, config.sessions.ttl_s,
                              config.sessions.history_limit),
        locks=ConversationLock(client, config.sessions.key_prefix, config.sessions.lock_lease_s,
                               config.sessions.lock_wait_s),
        sentiment=models.sentiment,
    )
    yield
    await app[assistant_key].locks.drain()
    await actions.close()


async def channels_context(app: web.Application):
    """The parts every channel shares: the outbound path (and this process's
    subscription to it), source links, conversation tokens, rate limits."""
    config, client = app[config_key], app[redis_key]
    sessions = config.sessions
    outbox = Outbox(client, sessions.key_prefix, transcript_ttl_s(config), sessions.history_limit)
    app[outbox_key] = outbox
    assistant = app[assistant_key]  # the handoff desk: told of every turn, used by the console
    assistant.desk = HandoffDesk.from_config(client, config, outbox, assistant.sessions, assistant.locks)
    products = (await asyncio.to_thread(load_catalog, config.knowledge.catalog)) if config.knowledge.catalog else []
    app[source_index_key] = SourceIndex.build(app[models_key].answerer.retriever.passages, products)
    widget = config.channels.widget
    app[tokens_key] = ConversationTokens(await asyncio.to_thread(secret_key, config),
                                         widget.token_max_age_days * 86400)
    app[rate_limits_key] = RateLimits(client, sessions.key_prefix, widget)
    outbox.start()
    yield
    await outbox.stop()


async def redis_health(app: web.Application) -> str:
    """"ok", or why Redis did not answer a PING within HEALTH_TIMEOUT_S."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            await app[health_redis_key].ping()
        return "ok"
    except (RedisError, OSError, TimeoutError) as exc:
        return f"{reason_of(exc)}: {type(exc).__name__}: {exc}".rstrip(": ")


async def health(request: web.Request) -> web.Response:
    """200 when Redis answers a PING within HEALTH_TIMEOUT_S, else 503 with the reason."""
    app = request.app
    redis_status = await redis_health(app)
    models = app[models_key]
    body = {
        "status": "ok" if redis_status == "ok" else "unavailable",
        "redis": redis_status,
        "worker": os.getpid(),
        "models": {
            "intents": f"ready ({len(models.interpreter.intents)} intents)",
            "knowledge": f"ready ({len(models.answerer.retriever.passages)} passages)",
            "lm": models.lm_status,
        },
        "open_sockets": app[outbox_key].open_sockets,  # widget and socket.io sockets open in this worker
        "messaging": sorted(app[messaging_key]),  # the messaging platforms whose secrets are set
    }
    return web.json_response(body, status=200 if redis_status == "ok" else 503)


def init_app(config: Config, models: LoadedModels | None = None) -> web.Application:
    """The bot's web application. `models` lets tests share loaded models between apps."""
    middlewares = []
    if config.server.trusted_proxies:  # behind a reverse proxy: the shopper's address from X-Forwarded-For
        middlewares.append(XForwardedStrict([list(config.server.trusted_proxies)]).middleware)
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=middlewares)
    app[config_key] = config
    app.cleanup_ctx.extend([redis_context, models_context(models), assistant_context, channels_context])
    app.router.add_get("/health", health)
    setup_rest_channel(app)
    if config.channels.widget.enabled:
        setup_widget_channel(app)
        if config.channels.widget.socketio:
            setup_socketio_channel(app)
    setup_messaging_channels(app)  # the messaging platforms whose secrets are set
    if config.console.enabled:
        setup_console(app)  # the agent handoff console at /console
    return app
