"""What the socket channels (the website widget and Rasa's socket.io) share:
one shopper message's turn, delivered through the outbound path.

    the shopper's message is added to the transcript (delivery key
    "user:<client id>", so a resend after a lost connection adds nothing)
    -> the turn pipeline, with the client id as the message id (a resend
       whose turn already ran gets its saved replies, nothing runs twice)
    -> the replies, channel-neutral, are delivered (keys "reply:<client id>:<n>")

The socket that asked is woken by the delivery like any other, so replies
reach every tab and process that holds the conversation, and wait in Redis
while none does.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from bot.channels.base import ChannelError, OnText, check_text
from bot.channels.messages import SHOWN, neutral
from bot.typedefs import assistant_key, config_key, outbox_key, rate_limits_key, source_index_key

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


async def socket_turn(app: web.Application, conversation_id: str, client_id: str, text: str, ip: str,
                      channel: str, display: str | None = None, on_text: OnText | None = None) -> list[dict]:
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
    outbox = app[outbox_key]
    await outbox.deliver(conversation_id, [{"text": display or text}], role="user",
                         keys=[f"user:{client_id}"], client_id=client_id)
    messages = await app[assistant_key].handle_turn(conversation_id, text, {"message_id": client_id},
                                                    channel=channel, on_text=on_text)
    index = app[source_index_key]
    replies = [m for m in (neutral(m, index) for m in messages) if any(m.get(k) for k in SHOWN)]
    return await outbox.deliver(conversation_id, replies, keys=[f"reply:{client_id}:{n}" for n in range(len(replies))],
                                reply_to=client_id)
