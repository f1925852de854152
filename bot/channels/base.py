"""What every channel adapter shares: errors, the turn, and sending.

An adapter is built the same way whatever the channel:

    verify   (a signature, a signed conversation token, the page's origin)
    -> parse (the platform's body -> sender, text, metadata)
    -> normalise and hand to the turn pipeline (`run_turn`)
    -> deliver (the bot's channel-neutral messages, rendered natively)

Errors map to HTTP statuses in one place, `error_status`, whether the
channel answers with an HTTP response (`error_response`) or with an event on
an open socket (`error_event`):

    ChannelError(status, ...)     its own status (400, 401, 403, 413, 429)
    SessionStoreUnavailable       503, reason from the store (timeout, down, pool_exhausted, ...), retry in 1 s
    LockTimeout                   503, reason "busy", retry in 5 s
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from aiohttp import web

from bot.sessions.lock import LockTimeout
from bot.sessions.redis_client import SessionStoreUnavailable

log = logging.getLogger(__name__)

OnText = Callable[[str], Awaitable[None]]


class ChannelError(Exception):
    """A request or frame a channel refuses, with its HTTP status.

    `extra` goes into the JSON error body (e.g. `limit`, `retry_after_s`)."""

    def __init__(self, status: int, message: str, reason: str | None = None, retry_after_s: float | None = None,
                 **extra):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.extra = extra


class RateLimited(ChannelError):
    """Too many messages or connections: 429 with Retry-After."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(429, message, reason="rate_limited", retry_after_s=retry_after_s)


# A turn error that a channel reports instead of crashing: what the shopper's client may retry.
TURN_ERRORS = (ChannelError, SessionStoreUnavailable, LockTimeout)

STORE_UNAVAILABLE = "the session store (Redis) is unavailable; the message was not processed, please retry"


def error_status(exc: BaseException) -> tuple[int, dict]:
    """(HTTP status, JSON body) for a turn error: {"error", "reason"?, "retry_after_s"?, ...}."""
    if isinstance(exc, ChannelError):
        body = {"error": str(exc), **exc.extra}
        if exc.reason:
            body["reason"] = exc.reason
        if exc.retry_after_s is not None:
            body["retry_after_s"] = exc.retry_after_s
        return exc.status, body
    if isinstance(exc, LockTimeout):
        return 503, {"error": str(exc), "reason": "busy", "retry_after_s": 5, "detail": str(exc)}
    if isinstance(exc, SessionStoreUnavailable):
        return 503, {"error": STORE_UNAVAILABLE, "reason": exc.reason, "retry_after_s": 1, "detail": str(exc)}
    raise TypeError(f"not a channel error: {exc!r}")


def error_response(exc: BaseException) -> web.Response:
    """The JSON error response for `exc`, with Retry-After when there is advice."""
    status, body = error_status(exc)
    response = web.json_response(body, status=status)
    if body.get("retry_after_s") is not None:
        response.headers["Retry-After"] = str(max(1, round(body["retry_after_s"])))
    return response


def error_event(exc: BaseException, **extra) -> dict:
    """The error as an event on an open socket: {"type": "error", "status", "error", ...}."""
    status, body = error_status(exc)
    return {"type": "error", "status": status, **body, **extra}


def log_turn_error(conversation_id: str, exc: BaseException) -> None:
    if isinstance(exc, SessionStoreUnavailable):
        log.error("conversation %s: session store unavailable (%s): %s", conversation_id, exc.reason, exc)
    elif isinstance(exc, LockTimeout):
        log.warning("conversation %s: %s", conversation_id, exc)


def origin_allowed(origin: str, own: str, allowed: tuple[str, ...]) -> bool:
    """A page's `origin` may open a chat: it is the bot's `own` origin or in `allowed` ("*": any)."""
    return "*" in allowed or origin.rstrip("/") in {own, *(o.rstrip("/") for o in allowed)}


def check_text(text, max_chars: int, field: str = "message") -> str:
    """`text` when it is a string of at most `max_chars`; else ChannelError 400/413."""
    if not isinstance(text, str):
        raise ChannelError(400, f"'{field}' is required and must be a string")
    if len(text) > max_chars:
        raise ChannelError(413, f"'{field}' is longer than {max_chars} characters", limit=max_chars)
    return text
