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

from bot.channels.base import TURN_ERRORS, ChannelError, check_text, error_response, log_turn_error
from bot.channels.outbound import NONE
from bot.typedefs import assistant_key, config_key, outbox_key

log = logging.getLogger(__name__)

CHANNEL = "rest"
MAX_SENDER_CHARS = 256


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
    """(sender, message, metadata) from the body; ChannelError (400, 413) when it is not usable."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ChannelError(413, f"request body is larger than {request.app[config_key].server.max_body_bytes} bytes")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ChannelError(400, f"body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        raise ChannelError(400, "body must be a JSON object with 'sender' and 'message'")
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata") or {}
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    if not isinstance(sender, str) or not sender.strip():
        raise ChannelError(400, "'sender' is required and must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise ChannelError(400, f"'sender' must be at most {MAX_SENDER_CHARS} characters")
    check_text(message, max_chars)
    if not isinstance(metadata, dict):
        raise ChannelError(400, "'metadata' must be a JSON object")
    return sender, message, metadata


async def _turn(request: web.Request, sender: str, message: str, metadata: dict,
                on_text=None) -> list[dict] | web.Response:
    """The bot's messages for a parsed request, or an error response."""
    try:
        # Rasa's REST channel cannot be reached later: the record says so (a console can still see it).
        await request.app[outbox_key].open(sender, CHANNEL, sender, reach=NONE)
        return await request.app[assistant_key].handle_turn(sender, message, metadata, channel=CHANNEL,
                                                            on_text=on_text)
    except TURN_ERRORS as exc:
        log_turn_error(sender, exc)
        return error_response(exc)


async def webhook(request: web.Request) -> web.Response:
    try:
        sender, message, metadata = await parse_request(request, request.app[config_key].server.max_message_chars)
    except ChannelError as exc:
        return error_response(exc)
    result = await _turn(request, sender, message, metadata)
    return result if isinstance(result, web.Response) else web.json_response(to_rest_messages(sender, result))


def _line(row: dict) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode()


async def stream(request: web.Request) -> web.StreamResponse:
    try:
        sender, message, metadata = await parse_request(request, request.app[config_key].server.max_message_chars)
    except ChannelError as exc:
        return error_response(exc)
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
        result = web.json_response({"error": f"the reply failed: {type(exc).__name__}"}, status=500)
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
