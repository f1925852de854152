"""Rasa's socket.io channel at /socket.io, so rasa-webchat and similar widgets work unchanged.

The protocol is python-socketio's (5.x, engine.io 4); the events are Rasa's:

    client session_request {session_id?}     -> server session_confirm <session_id>
    client user_uttered {message, session_id?, metadata|customData?}
                                             -> server bot_uttered {...} per message part

`session_id` is a signed conversation token the server issues (an unknown,
forged or expired one is replaced by a new conversation, as rasa-webchat
then starts afresh). Replies go through the outbound path like the widget's,
so a person's answer from the console or a late message reaches the open
socket in whichever process holds it, and waits in Redis until the shopper
is back. Each `bot_uttered` has exactly one of text (+quick_replies), an
image attachment, or a generic template (bot/channels/messages.py:
to_socketio), as rasa-webchat rejects messages with extra keys.

A message that is not processed (rate limit, Redis unavailable) gets a
`bot_uttered` text saying so, for the shopper, and a `shopkeep_error`
event with the error's JSON, for other clients.
"""

from __future__ import annotations

import logging
import uuid

import socketio
from aiohttp import web

from bot.channels.base import TURN_ERRORS, ChannelError, error_event, log_turn_error, origin_allowed
from bot.channels.messages import to_socketio
from bot.channels.outbound import SOCKET, SocketPump
from bot.channels.sockets import MAX_CLIENT_ID_CHARS, socket_turn
from bot.typedefs import config_key, outbox_key, rate_limits_key, tokens_key

log = logging.getLogger(__name__)

CHANNEL = "socketio"
PATH = "/socket.io"
MAX_PACKET_BYTES = 1_000_000


class SocketIOChannel:
    def __init__(self, app: web.Application):
        self.app = app
        settings = app[config_key].channels.widget
        # engine.io's own limit is generous, so that an over-long message gets the channel's
        # "longer than N characters" reply instead of a dropped connection.
        self.sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=self._origin_allowed,
                                        max_http_buffer_size=max(settings.max_frame_bytes, MAX_PACKET_BYTES),
                                        logger=False, engineio_logger=False)
        self.sio.attach(app, socketio_path=PATH)
        self.pumps: dict[str, SocketPump] = {}
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("session_request", self.session_request)
        self.sio.on("user_uttered", self.user_uttered)
        app.on_shutdown.append(self._shutdown)

    def _origin_allowed(self, origin: str | None, environ: dict) -> bool:
        if origin is None:  # not a browser
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin_allowed(origin, own, self.app[config_key].channels.widget.allowed_origins)

    @staticmethod
    def _ip(environ: dict) -> str:
        request = environ.get("aiohttp.request")
        return (request.remote if request is not None else None) or environ.get("REMOTE_ADDR") or "unknown"

    @staticmethod
    def _base_url(environ: dict) -> str:
        """The bot's address as the client reached it (behind a proxy: X-Forwarded-Proto/Host), for links."""
        scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http")).split(",")[0].strip()
        host = environ.get("HTTP_X_FORWARDED_HOST", environ.get("HTTP_HOST", "")).split(",")[0].strip()
        return f"{scheme}://{host}/" if host else ""

    async def connect(self, sid: str, environ: dict, auth=None) -> None:
        ip = self._ip(environ)
        try:
            await self.app[rate_limits_key].hit("connect", ip)
        except TURN_ERRORS as exc:
            raise socketio.exceptions.ConnectionRefusedError(error_event(exc))
        await self.sio.save_session(sid, {"ip": ip, "base_url": self._base_url(environ)})

    async def disconnect(self, sid: str, reason=None) -> None:
        pump = self.pumps.pop(sid, None)
        if pump is not None:
            await pump.stop()

    async def session_request(self, sid: str, data=None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        tokens, outbox = self.app[tokens_key], self.app[outbox_key]
        conversation_id = None
        if isinstance(requested, str) and requested:
            try:
                conversation_id = tokens.verify(requested)
            except ChannelError:
                log.info("socket.io: session_id %r is not one of ours (or expired); starting a new conversation",
                         requested[:40])
        try:
            if conversation_id is None:
                conversation_id = tokens.new_id()
                token = tokens.issue(conversation_id)
                await outbox.open(conversation_id, CHANNEL, conversation_id, reach=SOCKET)
                cursor = None
            else:
                token = requested  # the same id back, so the client keeps its history
                cursor = await outbox.acked(conversation_id)
        except TURN_ERRORS as exc:
            await self._refuse(sid, exc)
            return
        session = await self.sio.get_session(sid)
        session["conversation_id"] = conversation_id
        await self.sio.save_session(sid, session)
        await self.sio.emit("session_confirm", token, to=sid)
        old = self.pumps.pop(sid, None)
        if old is not None:
            await old.stop()

        base_url = session.get("base_url", "")

        async def send(entry: dict) -> None:
            if entry["role"] != "user":  # the client shows the shopper's own messages itself
                for payload in to_socketio(entry["message"], base_url):
                    await self.sio.emit("bot_uttered", payload, to=sid)

        async def sent(entry_id: str) -> None:
            await outbox.ack(conversation_id, entry_id)

        pump = SocketPump(outbox, conversation_id, send, cursor, on_sent=sent)
        self.pumps[sid] = pump
        pump.start()  # messages delivered while the shopper was away

    async def user_uttered(self, sid: str, data=None) -> None:
        session = await self.sio.get_session(sid)
        conversation_id = session.get("conversation_id")
        if conversation_id is None:  # a client that skipped session_request: as Rasa, give it one
            await self.session_request(sid, data if isinstance(data, dict) else None)
            session = await self.sio.get_session(sid)
            conversation_id = session.get("conversation_id")
            if conversation_id is None:
                return
        if not isinstance(data, dict):
            await self._refuse(sid, ChannelError(400, "user_uttered needs an object with 'message'"))
            return
        if data.get("message") is None or data.get("message") == "":
            return  # rasa-webchat opens with an empty message when it has no initPayload: nothing to answer
        metadata = data.get("metadata") or data.get("customData") or {}
        client_id = metadata.get("message_id") if isinstance(metadata, dict) else None
        if not isinstance(client_id, str) or not client_id or len(client_id) > MAX_CLIENT_ID_CHARS:
            client_id = uuid.uuid4().hex
        try:
            await socket_turn(self.app, conversation_id, client_id, data.get("message"), session["ip"], CHANNEL,
                              metadata=metadata)
            pump = self.pumps.get(sid)
            if pump is not None:
                await pump.flush()
        except TURN_ERRORS as exc:
            log_turn_error(conversation_id, exc)
            await self._refuse(sid, exc)

    async def _refuse(self, sid: str, exc: BaseException) -> None:
        event = error_event(exc)
        await self.sio.emit("shopkeep_error", event, to=sid)
        retry = f" Please try again in {round(event['retry_after_s'])} s." if event.get("retry_after_s") else ""
        await self.sio.emit("bot_uttered", {"text": f"Sorry, your message was not processed: {event['error']}.{retry}"},
                            to=sid)

    async def _shutdown(self, app: web.Application) -> None:
        for pump in list(self.pumps.values()):
            await pump.stop()
        self.pumps.clear()


def setup_socketio_channel(app: web.Application) -> SocketIOChannel:
    return SocketIOChannel(app)
