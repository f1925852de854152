"""The website chat widget: the script, its demo page, and its WebSocket.

    GET /widget.js                   the widget (plain JavaScript, no build step)
    GET /                            the demo store page, with the widget embedded
    GET /widget/demo/images/{file}   the demo products' pictures
    GET /sources/{passage id}        a knowledge source as the store wrote it (source links)
    GET /widget/ws?token=&after=&lang=   the live connection

The WebSocket protocol (JSON text frames) is documented for widget authors
in README.md ("Website widget"); in short:

  server -> client  {"type": "welcome", "conversation_id", "token"}   first, on every connection
                    {"type": "entry", "id", "role", "client_id", "reply_to", "ts", "message"}
                    {"type": "partial", "reply_to", "text"}            a checked sentence, while it is written
                    {"type": "typing", "on": bool}
                    {"type": "error", "status", "error", "reason"?, "retry_after_s"?, "client_id"?}
                    {"type": "pong"}
  client -> server  {"type": "message", "client_id", "text", "display"?, "metadata"?: {"customer_token"}}
                    {"type": "ack", "id"}
                    {"type": "ping"}

Checks before the upgrade: the page's Origin must be the bot's own or in
`channels.widget.allowed_origins` (else 403); a token must be genuine and
unexpired (else 401); new sockets per IP address are rate limited (429).
After it: a frame over `max_frame_bytes` closes the socket with code 1009
and a reason; a malformed frame gets an error event and the socket stays.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import weakref
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, web

from bot.channels.base import (
    TURN_ERRORS,
    ChannelError,
    error_event,
    error_response,
    log_turn_error,
    origin_allowed,
)
from bot.channels.outbound import ENTRY_ID, SOCKET, SocketPump
from bot.channels.sockets import check_client_id, client_ip, socket_turn
from bot.config import DEMO_CONFIG
from bot.sessions.redis_client import SessionStoreUnavailable
from bot.typedefs import config_key, outbox_key, rate_limits_key, source_index_key, tokens_key

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "widget_static"
DEMO_STORE = "Maple & Pine"  # the demo store's name (bot/demo/shopkeep.yml): its page is served at /
CHANNEL = "widget"
LANGS = ("en", "zh")
SHUTDOWN_TURN_WAIT_S = 30.0  # on shutdown, turns still running get this long to finish
FLUSH_WAIT_S = 5.0  # how long a turn waits to send its replies itself before leaving them to the pump


def allowed_origin(request: web.Request) -> bool:
    """The page's Origin is the bot's own, or in the allowlist ("*": any)."""
    allowed = request.app[config_key].channels.widget.allowed_origins
    return origin_allowed(request.headers.get("Origin") or "", f"{request.scheme}://{request.host}", allowed)


class _WebSocket(web.WebSocketResponse):
    """aiohttp's WebSocket, closing an oversized frame's socket with a reason, not just code 1009."""

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = f"frame larger than {self._max_msg_size} bytes".encode()
        return await super().close(code=code, message=message, drain=drain)


class WidgetSocket:
    """One open widget connection: its pump (entries out) and its turns (messages in, in order)."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, conversation_id: str, after: str | None):
        self.app = request.app
        self.ws = ws
        self.ip = client_ip(request)
        self.conversation_id = conversation_id
        self.outbox = self.app[outbox_key]
        self.pump = SocketPump(self.outbox, conversation_id, self._send_entry, after)
        self.queue: asyncio.Queue[dict] = asyncio.Queue()
        self.turns = asyncio.create_task(self._turns(), name=f"widget-turns-{conversation_id}")

    async def send(self, frame: dict) -> None:
        if not self.ws.closed:
            try:
                await self.ws.send_json(frame, dumps=_dumps)
            except (ConnectionError, RuntimeError):
                pass  # the shopper left; what was not sent waits in the outbox

    async def _send_entry(self, entry: dict) -> None:
        if self.ws.closed:
            raise ConnectionResetError("socket closed")
        await self.ws.send_json({"type": "entry", **entry}, dumps=_dumps)

    async def receive(self, raw: str) -> None:
        """One text frame from the widget."""
        try:
            frame = json.loads(raw)
        except json.JSONDecodeError as exc:
            await self.send(error_event(ChannelError(400, f"frame is not valid JSON: {exc}"), client_id=None))
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "message":
            try:
                check_client_id(frame.get("client_id"))
            except ChannelError as exc:
                await self.send(error_event(exc, client_id=None))
                return
            self.queue.put_nowait(frame)
        elif kind == "ack":
            try:
                await self.outbox.ack(self.conversation_id, frame.get("id") if isinstance(frame.get("id"), str)
                                      else "")
            except ValueError as exc:
                await self.send(error_event(ChannelError(400, str(exc))))
            except SessionStoreUnavailable:
                pass  # an acknowledgement is advice; the next one covers it
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            await self.send(error_event(ChannelError(
                400, "a frame must be a JSON object with \"type\": \"message\", \"ack\" or \"ping\"")))

    async def _turns(self) -> None:
        running = self.app[running_turns_key]
        while True:
            frame = await self.queue.get()
            # Its own task, shielded: when the shopper closes the page mid-turn, the turn still
            # finishes and delivers (the widget will not resend a message it has a receipt for).
            task = asyncio.create_task(self.turn(frame))
            running.add(task)
            task.add_done_callback(running.discard)
            await asyncio.shield(task)

    async def turn(self, frame: dict) -> None:
        client_id = frame["client_id"]

        async def partial(text: str) -> None:
            await self.send({"type": "partial", "reply_to": client_id, "text": text})

        await self.send({"type": "typing", "on": True})
        try:
            await socket_turn(self.app, self.conversation_id, client_id, frame.get("text"), self.ip, CHANNEL,
                              display=frame.get("display"), on_text=partial, metadata=frame.get("metadata"))
            # the replies before "typing off"; if Redis went away just now, the pump sends them later
            async with asyncio.timeout(FLUSH_WAIT_S):
                await self.pump.flush()
        except TimeoutError:
            self.pump.wake()
        except (ConnectionError, RuntimeError):
            pass  # the shopper left mid-turn: the replies wait in the outbox
        except TURN_ERRORS as exc:
            log_turn_error(self.conversation_id, exc)
            await self.send(error_event(exc, client_id=client_id))
        except Exception as exc:
            log.exception("conversation %s: widget turn failed", self.conversation_id)
            await self.send({"type": "error", "status": 500, "error": f"the reply failed: {type(exc).__name__}",
                             "client_id": client_id, "retry_after_s": 2})
        finally:
            await self.send({"type": "typing", "on": False})

    async def close(self) -> None:
        # A turn already running finishes and delivers (its replies wait in the outbox);
        # messages queued behind it are dropped: the widget resends what it has no receipt for.
        current = self.turns
        await self.pump.stop()
        if not current.done():
            current.cancel()


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


async def websocket(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[config_key].channels.widget
    try:
        if not allowed_origin(request):
            raise _origin_refused(request)
        await app[rate_limits_key].hit("connect", client_ip(request))
        token = request.query.get("token") or ""
        tokens = app[tokens_key]
        conversation_id = tokens.verify(token) if token else tokens.new_id()
        after = request.query.get("after") or None
        if after is not None and not ENTRY_ID.match(after):
            raise ChannelError(400, "'after' must be an entry id such as 1732900000000-0")
        lang = request.query.get("lang") if request.query.get("lang") in LANGS else None
        await app[outbox_key].open(conversation_id, CHANNEL, conversation_id, lang, reach=SOCKET)  # new, or renewed
    except TURN_ERRORS as exc:
        return error_response(exc)
    ws = _WebSocket(max_msg_size=settings.max_frame_bytes, heartbeat=30)
    await ws.prepare(request)
    await ws.send_json({"type": "welcome", "conversation_id": conversation_id,
                        "token": tokens.issue(conversation_id)})
    sock = WidgetSocket(request, ws, conversation_id, after)
    sock.pump.start()
    app[open_sockets_key].add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await sock.receive(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await sock.send(error_event(ChannelError(400, "frames must be JSON text, not binary")))
            elif msg.type == WSMsgType.ERROR:
                log.info("widget socket %s closed: %s", conversation_id, ws.exception())
                break
    finally:
        app[open_sockets_key].discard(ws)
        await sock.close()
        if not ws.closed:
            await ws.close(code=WSCloseCode.GOING_AWAY)
    return ws


async def token_status(request: web.Request) -> web.Response:
    """GET /widget/token?token=...: what the WebSocket handshake would say, readable by the
    widget from any page (a failed handshake hides its status from the browser):
    200 {"valid": true|false (no token)}, 401 for a forged or expired token, 403 for a page
    whose origin is not allowed (so the widget can tell the store owner in the console)."""
    origin = request.headers.get("Origin")
    token = request.query.get("token") or ""
    try:
        if origin and not allowed_origin(request):  # (a same-origin GET carries no Origin header)
            raise _origin_refused(request)
        if token:
            request.app[tokens_key].verify(token)
        response = web.json_response({"valid": bool(token)})
    except ChannelError as exc:
        response = error_response(exc)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _origin_refused(request: web.Request) -> ChannelError:
    origin = request.headers.get("Origin")
    log.warning("widget: refused a page from origin %r; add it to channels.widget.allowed_origins if it is the "
                "store's site", origin)
    return ChannelError(403, f"origin {origin!r} may not open this chat; add it to "
                             "channels.widget.allowed_origins", reason="origin")


async def widget_js(request: web.Request) -> web.FileResponse:
    # Any page may load the script; the socket checks origins.
    return web.FileResponse(STATIC / "widget.js", headers={"Cache-Control": "public, max-age=300",
                                                            "Content-Type": "text/javascript; charset=utf-8",
                                                            "Access-Control-Allow-Origin": "*"})


async def demo_page(request: web.Request) -> web.StreamResponse:
    """The demo store's page with the widget; for any other store (or a Rasa project), a plain page
    with the store's name and the widget, not the demo store's products."""
    config = request.app[config_key]
    if config.source is not None and config.source == DEMO_CONFIG.resolve() and config.store_name == DEMO_STORE:
        return web.FileResponse(STATIC / "demo.html", headers={"Cache-Control": "no-cache"})
    store = html.escape(config.store_name)
    body = (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>{store}</title>"
            "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
            f"</style></head><body><h1>{store}</h1><p>Ask the assistant in the corner of this page.</p>"
            f"<script src='/widget.js' data-title='{store}' async></script></body></html>")
    return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-cache"})


async def source_page(request: web.Request) -> web.Response:
    """A knowledge source as the store wrote it, so a shopper can read the exact conditions."""
    passage = request.app[source_index_key].passages.get(request.match_info["passage_id"])
    if passage is None:
        raise web.HTTPNotFound(text="no such source")
    store = html.escape(request.app[config_key].store_name)
    body = (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>{html.escape(passage.title)} · {store}</title>"
            "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
            "p{white-space:pre-wrap}</style></head>"
            f"<body><p><small>{store}</small></p><h1>{html.escape(passage.title or passage.id)}</h1>"
            f"<p>{html.escape(passage.text)}</p></body></html>")
    return web.Response(text=body, content_type="text/html",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


async def close_sockets(app: web.Application) -> None:
    """On shutdown: close every open widget socket (the widgets reconnect to another
    process), then let the turns already running finish and deliver."""
    for ws in list(app[open_sockets_key]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
    if app[running_turns_key]:
        await asyncio.wait(list(app[running_turns_key]), timeout=SHUTDOWN_TURN_WAIT_S)


open_sockets_key = web.AppKey("widget_sockets", weakref.WeakSet)
running_turns_key = web.AppKey("widget_turns", set)


def setup_widget_channel(app: web.Application) -> None:
    """The widget's routes. Its conversations are recorded as reached by socket: their open
    sockets read the transcript themselves, in whichever process holds them."""
    app[open_sockets_key] = weakref.WeakSet()
    app[running_turns_key] = set()
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/", demo_page)
    app.router.add_static("/widget/demo/images", STATIC / "images")
    app.router.add_get("/sources/{passage_id}", source_page)
    app.router.add_get("/widget/ws", websocket)
    app.router.add_get("/widget/token", token_status)
