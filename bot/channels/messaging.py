"""The messaging platforms: which are enabled, their webhook routes, and
their shared parts' lifetime (the inbox consumer, the HTTP client for the
send APIs).

A platform is enabled when its secrets are set in the environment
(bot/config.py, `PlatformCredentials`); WhatsApp and Messenger share one
Meta app's secrets.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bot.channels.webhooks import (
    ApiClient,
    Inbound,
    Inbox,
    MessagingChannel,
    UnsentQueue,
    inbox_key,
    messaging_key,
)
from bot.config import Config
from bot.typedefs import config_key, outbox_key, redis_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Platform:
    name: str  # the channel's name and its route: /webhooks/<name>
    title: str
    credentials: str  # the PlatformCredentials field whose secrets enable it
    adapter: str  # "module:Class"
    handshake: bool = False  # also answers GET (Meta's subscription check)


PLATFORMS = (
    Platform("telegram", "Telegram", "telegram", "bot.channels.telegram:TelegramChannel"),
    Platform("whatsapp", "WhatsApp Cloud API", "meta", "bot.channels.whatsapp:WhatsAppChannel", handshake=True),
    Platform("messenger", "Messenger", "meta", "bot.channels.messenger:MessengerChannel", handshake=True),
    Platform("slack", "Slack", "slack", "bot.channels.slack:SlackChannel"),
    Platform("twilio", "Twilio SMS and WhatsApp", "twilio", "bot.channels.twilio:TwilioChannel"),
    Platform("chatwoot", "Chatwoot (Agent Bot)", "chatwoot", "bot.channels.chatwoot:ChatwootChannel"),
)


def enabled_platforms(config: Config) -> list[Platform]:
    """The platforms whose secrets are set, in PLATFORMS order."""
    return [p for p in PLATFORMS if getattr(config.platforms, p.credentials) is not None]


def webhook_path(platform: Platform) -> str:
    return f"/webhooks/{platform.name}"


def adapter_class(platform: Platform) -> type[MessagingChannel]:
    module, name = platform.adapter.split(":")
    return getattr(importlib.import_module(module), name)


async def messaging_context(app: web.Application):
    """Start the enabled platforms: their adapters, the send API client, the
    senders on the outbound path and this process's inbox consumer."""
    config = app[config_key]
    platforms = enabled_platforms(config)
    if not platforms:
        app[messaging_key] = {}
        yield
        return
    settings = config.channels.messaging
    session = aiohttp.ClientSession(headers={"User-Agent": "shopkeep"})
    api = ApiClient(session, settings.send_attempts, settings.send_max_wait_s, settings.send_timeout_s)
    channels: dict[str, MessagingChannel] = {}
    for platform in platforms:
        channel = adapter_class(platform)(app, getattr(config.platforms, platform.credentials), api)
        channels[platform.name] = channel
        app[outbox_key].register(platform.name, channel.send)
    app[messaging_key] = channels

    async def handle(event: Inbound) -> None:
        channel = channels.get(event.platform)
        if channel is None:  # accepted by a process with a platform this one does not have
            raise RuntimeError(f"no {event.platform!r} channel in this process; is its secret set in every worker?")
        await channel.process(event)

    async def flush(conversation_id: str) -> None:
        record = await app[outbox_key].record(conversation_id)
        channel = channels.get(record["channel"]) if record else None
        if channel is None:
            log.warning("conversation %s: messages to send, but %s", conversation_id,
                        f"no {record['channel']!r} channel in this process" if record else "it has no record")
            return
        await channel.flush(conversation_id)

    inbox = Inbox(app[redis_key], config.sessions.key_prefix, handle, settings.dedupe_ttl_s,
                  settings.concurrent_turns, settings.reclaim_after_s)
    unsent = UnsentQueue(app[redis_key], config.sessions.key_prefix, flush, app[outbox_key].unsent_key,
                         settings.concurrent_turns, settings.reclaim_after_s)
    app[inbox_key] = inbox
    inbox.start()
    unsent.start()
    log.info("messaging webhooks: %s", ", ".join(f"{p.title} at {webhook_path(p)}" for p in platforms))
    yield
    await inbox.stop()
    await unsent.stop()
    await session.close()


def _post(name: str):
    async def handler(request: web.Request) -> web.Response:
        return await request.app[messaging_key][name].webhook(request)
    return handler


def _get(name: str):
    async def handler(request: web.Request) -> web.Response:
        return await request.app[messaging_key][name].handshake(request)
    return handler


def setup_messaging_channels(app: web.Application) -> None:
    """Routes for the enabled platforms, and their context (after the outbound path's)."""
    platforms = enabled_platforms(app[config_key])
    for platform in platforms:
        app.router.add_post(webhook_path(platform), _post(platform.name))
        if platform.handshake:
            app.router.add_get(webhook_path(platform), _get(platform.name))
    app.cleanup_ctx.append(messaging_context)
