"""What the socket channels (the website widget and Rasa's socket.io) share:
checks and rate limits before a shopper's message runs (bot/channels/turns.py).

The socket that asked is woken by the delivery like any other, so replies
reach every tab and process that holds the conversation, and wait in Redis
while none does.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from bot.channels.base import ChannelError, OnText, check_text
from bot.channels.turns import run_turn
from bot.typedefs import config_key, rate_limits_key
from knowledge.shop.identity import CUSTOMER_TOKEN_KEY

MAX_CLIENT_ID_CHARS = 64


def client_ip(request: web.Request) -> str:
    """The peer's address (normalised), for per-address rate limits."""
    remote = request.remote or "unknown"
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return remote


def check_client_id(client_id) -> str:
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_CLIENT_ID_CHARS:
        raise ChannelError(400, f"'client_id' must be a non-empty string of at most {MAX_CLIENT_ID_CHARS} characters")
    return client_id


MAX_TOKEN_CHARS = 4096  # a logged-in shopper's JWT from the store's page (README, "Orders ...")


async def socket_turn(app: web.Application, conversation_id: str, client_id: str, text: str, ip: str,
                      channel: str, display: str | None = None, on_text: OnText | None = None,
                      metadata: dict | None = None) -> list[dict]:
    """Run one shopper message and deliver the replies; returns the new reply entries.

    Raises ChannelError (400/413 bad message, 429 over a rate limit),
    SessionStoreUnavailable or LockTimeout (503); the message was then not
    processed and the client may resend it with the same client id."""
    max_chars = app[config_key].server.max_message_chars
    check_text(text, max_chars)
    if display is not None:
        check_text(display, max_chars, "display")
    if not text.strip():
        raise ChannelError(400, "'message' must not be empty")
    await app[rate_limits_key].message(conversation_id, ip)
    return await run_turn(app, conversation_id, client_id, text, channel, display, on_text=on_text,
                          metadata=passed_metadata(metadata))


def passed_metadata(metadata) -> dict:
    """The parts of a client's message metadata the turn may see: the store site's signed
    customer token (checked by the actions), when it is a string of sensible length."""
    token = metadata.get(CUSTOMER_TOKEN_KEY) if isinstance(metadata, dict) else None
    return {CUSTOMER_TOKEN_KEY: token} if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_CHARS else {}
