"""A local HTTP server that stands in for a messaging platform's send API.

It records every request (method, path, headers, JSON or form body) and
answers each with the platform's documented success body, unless a test
scripted other answers first (a 429 with Retry-After, a 500). Each
platform's test gives the success body for its own API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.typedefs import redis_key


@dataclass
class Call:
    method: str
    path: str
    headers: dict
    json: dict | None
    form: dict | None
    query: dict

    @property
    def body(self) -> dict:
        return self.json if self.json is not None else (self.form or {})


@dataclass
class Answer:
    status: int
    body: dict | str
    headers: dict = field(default_factory=dict)


class StandIn:
    """`ok(call) -> body` makes the success answer for a call (200)."""

    def __init__(self, ok: Callable[[Call], dict | str]):
        self.ok = ok
        self.calls: list[Call] = []
        self.scripted: dict[str, list[Answer]] = {}  # path suffix -> answers to give first, in order
        self._changed = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> "StandIn":
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    def script(self, path_suffix: str, *answers: Answer) -> None:
        """The next calls whose path ends with `path_suffix` get `answers`, in order, then success."""
        self.scripted.setdefault(path_suffix, []).extend(answers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body_json = form = None
        if request.content_type == "application/json" and raw:
            body_json = json.loads(raw)
        elif raw:
            form = dict((await request.post()).items()) if request.content_type.endswith("urlencoded") else None
        call = Call(request.method, request.path, dict(request.headers), body_json, form, dict(request.query))
        self.calls.append(call)
        self._changed.set()
        for suffix, answers in self.scripted.items():
            if request.path.endswith(suffix) and answers:
                answer = answers.pop(0)
                return _respond(answer.status, answer.body, answer.headers)
        return _respond(200, self.ok(call), {})

    def matching(self, predicate: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        return [c for c in self.calls if predicate(c)]

    async def wait_for(self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 30) -> list[Call]:
        """The calls matching `predicate`, once there are at least `count` (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout):
            while len(found := self.matching(predicate)) < count:
                self._changed.clear()
                await self._changed.wait()
        return found

    async def quiet(self, seconds: float = 1.5) -> None:
        """Wait `seconds` (to show that nothing more arrives)."""
        await asyncio.sleep(seconds)


def _respond(status: int, body, headers: dict) -> web.Response:
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers,
                            content_type="text/xml" if body.startswith("<") else "text/plain")
    return web.json_response(body, status=status, headers=headers)


async def redis_keys(client, prefix: str) -> list[str]:
    """Every key under a test's prefix (to show that a refused request stored nothing)."""
    return sorted(k.decode() for k in await client.keys(f"{prefix}:*"))


@asynccontextmanager
async def nothing_stored_or_sent(bot, api: StandIn, prefix: str, sent: Callable[[Call], bool]):
    """Around a request the bot must refuse: afterwards no Redis key under the
    test's `prefix` was added, nothing waits in the webhook inbox, and no
    call matching `sent` reached the send API."""
    client = bot.app[redis_key]
    await asyncio.sleep(0.2)  # the inbox's consumer group exists before the keys are counted
    before = await redis_keys(client, prefix)
    yield
    await api.quiet(1.0)
    assert api.matching(sent) == []
    assert await redis_keys(client, prefix) == before
    assert await client.xlen(f"{prefix}:inbox") == 0


def meta_signed(body, secret: str) -> tuple[bytes, dict]:
    """`body` (JSON-able, or bytes as they are) and the headers Meta sends
    with it: X-Hub-Signature-256, "sha256=" + hex HMAC-SHA256(app secret, body)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
