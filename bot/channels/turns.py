"""One shopper message's turn, for every channel that delivers through the
outbound path (the widget, socket.io and the messaging webhooks):

    the shopper's message is added to the transcript (delivery key
    "user:<message id>", so a resend adds nothing)
    -> the turn pipeline, with the message id in the metadata (a resend whose
       turn already ran gets its saved replies; nothing runs twice)
    -> the replies, channel-neutral, are delivered (keys "reply:<message id>:<n>"):
       open sockets read them from the transcript, messaging channels' senders
       send them through the platform's API.

Rasa's REST channel answers in the HTTP response instead (bot/channels/rest.py).
"""

from __future__ import annotations

from aiohttp import web

from bot.channels.base import OnText
from bot.channels.messages import SHOWN, neutral
from bot.typedefs import assistant_key, outbox_key, source_index_key


async def run_turn(app: web.Application, conversation_id: str, message_id: str, text: str, channel: str,
                   display: str | None = None, metadata: dict | None = None,
                   on_text: OnText | None = None) -> list[dict]:
    """Run one message and deliver the replies; returns the new reply entries
    (bot/channels/outbound.py), [] for a resend that was delivered before.

    `display`: what the transcript shows for the shopper's message when it is
    not `text` (a button's title, not its payload). Raises
    SessionStoreUnavailable or LockTimeout: nothing was answered and the same
    message id may be tried again."""
    outbox = app[outbox_key]
    await outbox.deliver(conversation_id, [{"text": display or text}], role="user",
                         keys=[f"user:{message_id}"], client_id=message_id)
    messages = await app[assistant_key].handle_turn(conversation_id, text, {**(metadata or {}),
                                                                             "message_id": message_id},
                                                    channel=channel, on_text=on_text)
    index = app[source_index_key]
    replies = [m for m in (neutral(m, index) for m in messages) if any(m.get(k) for k in SHOWN)]
    return await outbox.deliver(conversation_id, replies, keys=[f"reply:{message_id}:{n}" for n in range(len(replies))],
                                reply_to=message_id)
