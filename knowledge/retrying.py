"""Retrying HTTP calls to other systems (a shop backend, the messaging
platforms' send APIs) the same way: exponential backoff with jitter, a
server's Retry-After honoured, and a bound on tries and on any one wait.
Built on tenacity."""

from __future__ import annotations

import email.utils
import time
from typing import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter


def retrying(retryable: type[BaseException], attempts: int, max_wait_s: float, initial_s: float = 0.5,
             before_sleep: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
    """An AsyncRetrying that tries again on `retryable` errors, at most
    `attempts` tries in all. Waits grow from `initial_s` (doubling, with
    jitter of half of it) up to `max_wait_s`; an error whose
    `retry_after_s` is set (the server's Retry-After, in seconds) waits that
    long instead, and one asking for more than `max_wait_s` stops at once.
    The last error is raised (reraise) for the caller to word."""
    backoff = wait_exponential_jitter(initial=initial_s, max=max_wait_s, jitter=initial_s / 2)

    def asked(state: RetryCallState) -> float | None:
        exc = state.outcome.exception() if state.outcome else None
        return getattr(exc, "retry_after_s", None) if isinstance(exc, retryable) else None

    def wait(state: RetryCallState) -> float:
        seconds = asked(state)
        return seconds if seconds is not None else backoff(state)

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number >= attempts or (asked(state) or 0) > max_wait_s

    return AsyncRetrying(stop=stop, wait=wait, retry=retry_if_exception_type(retryable), before_sleep=before_sleep,
                         reraise=True)


def retry_after(headers, default: float | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), else `default`."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return default
