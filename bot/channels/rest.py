"""Rasa's REST channel: POST /webhooks/rest/webhook, so existing Rasa clients work unchanged.

Request  {"sender": "...", "message": "...", "metadata": {...}?}
Response [{"recipient_id": "...", "text": "...", "custom": {...}, ...}, ...]

POST /webhooks/rest/stream takes the same request and answers with
newline-delimited JSON: {"recipient_id", "partial": "..."} lines while a
knowledge answer is being written (each a checked sentence), then the final
messages, one {"recipient_id", "text", "custom", ...} per line, then
{"recipient_id", "done": true}. Errors before the first line are the same
JSON errors as the webhook's; a failure after it ends the stream with an
{"error": ...} line.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from bot.sessions.lock import LockTimeout
from bot.sessions.redis_client import SessionStoreUnavailable
from bot.typedefs import assistant_key, config_key

log = logging.getLogger(__name__)

MAX_SENDER_CHARS = 256


def json_error(status: int, message: str, **extra) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class RequestRejected(Exception):
    """A request the channel refuses; carries the JSON error response."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.response = json_error(status, message, **extra)


def to_rest_messages(sender: str, messages: list[dict]) -> list[dict]:
    """Rasa's REST format: a text with blank lines goes out as several messages."""
    out = []
    for message in messages:
        extra = {k: v for k, v in message.items() if k != "text" and v is not None}
        parts = [p.strip() for p in (message.get("text") or "").split("\n\n") if p.strip()]
        if not parts:
            out.append({"recipient_id": sender, **extra})
        for part in parts:
            out.append({"recipient_id": sender, "text": part, **extra})
    return out


async def parse_request(request: web.Request, max_chars: int) -> tuple[str, str, dict]:
    """(sender, message, metadata) from the body, or RequestRejected."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestRejected(413, f"request body is larger than {request.app[config_key].server.max_body_bytes} bytes")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestRejected(400, f"body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        raise RequestRejected(400, "body must be a JSON object with 'sender' and 'message'")
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata") or {}
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    if not isinstance(sender, str) or not sender.strip():
        raise RequestRejected(400, "'sender' is required and must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise RequestRejected(400, f"'sender' must be at most {MAX_SENDER_CHARS} characters")
    if not isinstance(message, str):
        raise RequestRejected(400, "'message' is required and must be a string")
    if len(message) > max_chars:
        raise RequestRejected(413, f"'message' is longer than {max_chars} characters", limit=max_chars)
    if not isinstance(metadata, dict):
        raise RequestRejected(400, "'metadata' must be a JSON object")
    return sender, message, metadata


def unavailable_response(exc: SessionStoreUnavailable | LockTimeout) -> web.Response:
    """503 with the reason and when to retry: the message was not processed."""
    if isinstance(exc, LockTimeout):
        reason, retry_after, message = "busy", 5, str(exc)
    else:
        reason, retry_after = exc.reason, 1
        message = "the session store (Redis) is unavailable; the message was not processed, please retry"
    response = json_error(503, message, reason=reason, retry_after_s=retry_after, detail=str(exc))
    response.headers["Retry-After"] = str(retry_after)
    return response


async def _turn(request: web.Request, sender: str, message: str, metadata: dict,
                on_text=None) -> list[dict] | web.Response:
    """The bot's messages for a parsed request, or an error response."""
    try:
        return await request.app[assistant_key].handle_turn(sender, message, metadata, channel="rest",
                                                            on_text=on_text)
    except SessionStoreUnavailable as exc:
        log.error("conversation %s: session store unavailable (%s): %s", sender, exc.reason, exc)
        return unavailable_response(exc)
    except LockTimeout as exc:
        log.warning("conversation %s: %s", sender, exc)
        return unavailable_response(exc)


async def webhook(request: web.Request) -> web.Response:
    try:
        sender, message, metadata = await parse_request(request, request.app[config_key].server.max_message_chars)
    except RequestRejected as exc:
        return exc.response
    result = await _turn(request, sender, message, metadata)
    return result if isinstance(result, web.Response) else web.json_response(to_rest_messages(sender, result))


def _line(row: dict) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode()


async def stream(request: web.Request) -> web.StreamResponse:
    try:
        sender, message, metadata = await parse_request(request, request.app[config_key].server.max_message_chars)
    except RequestRejected as exc:
        return exc.response
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"})

    async def on_text(text: str) -> None:
        if not response.prepared:
            await response.prepare(request)
        await response.write(_line({"recipient_id": sender, "partial": text}))

    try:
        result = await _turn(request, sender, message, metadata, on_text)
    except Exception as exc:
        if not response.prepared:
            raise
        log.exception("conversation %s: streamed reply failed after it started", sender)
        result = json_error(500, f"the reply failed: {type(exc).__name__}")
    if isinstance(result, web.Response) and not response.prepared:
        return result
    if not response.prepared:
        await response.prepare(request)
    if isinstance(result, web.Response):
        await response.write(_line(json.loads(result.text)))
    else:
        for row in to_rest_messages(sender, result):
            await response.write(_line(row))
        await response.write(_line({"recipient_id": sender, "done": True}))
    await response.write_eof()
    return response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def setup_rest_channel(app: web.Application) -> None:
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_post("/webhooks/rest/stream", stream)
    app.router.add_get("/webhooks/rest/", health)
    app.router.add_get("/webhooks/rest", health)
