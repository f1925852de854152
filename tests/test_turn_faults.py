"""The turn path under load and faults, against real Redis servers (issue 10).

Pools and timeouts are set small so each fault shows in seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import replace

import pytest

from bot.server import init_app
from bot.sessions.embedded_redis import EmbeddedRedis
from bot.sessions.store import LOCK_LOST, Session, SessionStoreUnavailable
from bot.typedefs import assistant_key
from tests.helpers import say, start_server

pytestmark = pytest.mark.integration
URL = "/webhooks/rest/webhook"


def with_sessions(config, **settings):
    return replace(config, sessions=replace(config.sessions, **settings))


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of the test's own, so it can be paused and stopped."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    try:
        os.kill(server._process.pid, signal.SIGCONT)
    except (ProcessLookupError, AttributeError):
        pass
    server.stop()


def pause(server: EmbeddedRedis) -> None:
    os.kill(server._process.pid, signal.SIGSTOP)


def resume(server: EmbeddedRedis) -> None:
    os.kill(server._process.pid, signal.SIGCONT)


async def test_an_exhausted_pool_makes_turns_wait_not_fail(aiohttp_client, config, models):
    # three connections for forty conversations at once: before, "Too many connections" gave 503s
    small = with_sessions(config, pool_size=3, pool_timeout_s=10)
    client = await aiohttp_client(init_app(small, models))
    responses = await asyncio.gather(*(client.post(URL, json={"sender": f"p{n}", "message": "hi"})
                                       for n in range(40)))
    assert [r.status for r in responses] == [200] * 40


async def test_a_turn_that_fails_after_taking_its_ticket_leaves_the_conversation_usable(
        aiohttp_client, config, models, monkeypatch):
    client = await aiohttp_client(init_app(config, models))
    sessions = client.app[assistant_key].sessions
    real_save = sessions.save
    failures = iter([SessionStoreUnavailable("could not save the session: Redis did not answer in time", "timeout")])

    async def failing_save(session, fence=None):
        try:
            raise next(failures)
        except StopIteration:
            return await real_save(session, fence)

    monkeypatch.setattr(sessions, "save", failing_save)
    resp = await client.post(URL, json={"sender": "f1", "message": "where is my order SK-1002"})
    assert resp.status == 503 and (await resp.json())["reason"] == "timeout"
    started = time.monotonic()
    assert "e-mail address or the postcode" in (await say(client, "f1", "where is my order SK-1002"))[0]["text"]
    assert time.monotonic() - started < 5  # not the old 30 s wait for a ticket that was never given back
    history = (await sessions.load("f1")).history
    assert [e["text"] for e in history if e["event"] == "user"] == ["where is my order SK-1002"]


async def test_a_turn_that_crashes_leaves_the_conversation_usable(aiohttp_client, config, models, monkeypatch):
    client = await aiohttp_client(init_app(config, models))
    dialogue = client.app[assistant_key].dialogue
    real_respond = dialogue.respond
    calls = {"n": 0}

    async def crashing_respond(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in an action")
        return await real_respond(*args, **kwargs)

    monkeypatch.setattr(dialogue, "respond", crashing_respond)
    assert (await client.post(URL, json={"sender": "c1", "message": "hi"})).status == 500
    started = time.monotonic()
    await say(client, "c1", "hi")
    assert time.monotonic() - started < 5


async def test_health_says_503_quickly_while_redis_is_paused(aiohttp_client, config, models, own_redis):
    client = await aiohttp_client(init_app(with_sessions(config, redis_url=own_redis.url), models))
    assert (await client.get("/health")).status == 200
    pause(own_redis)
    try:
        started = time.monotonic()
        resp = await client.get("/health")
        waited = time.monotonic() - started
        body = await resp.json()
    finally:
        resume(own_redis)
    assert resp.status == 503 and body["redis"].startswith("timeout")
    assert waited < 2
    assert (await client.get("/health")).status == 200


async def test_after_a_redis_stall_every_conversation_answers_again_at_once(aiohttp_client, config, models,
                                                                           own_redis):
    """Turns caught in the stall get 503 with retry advice; once Redis is back,
    no conversation waits for a lock left behind (before: 30-60 s)."""
    fast = with_sessions(config, redis_url=own_redis.url, command_timeout_s=0.5, lock_lease_s=1.0)
    client = await aiohttp_client(init_app(fast, models))
    senders = [f"s{n}" for n in range(8)]
    for sender in senders:
        await say(client, sender, "hi")
    pause(own_redis)
    try:
        during = await asyncio.gather(*(client.post(URL, json={"sender": s, "message": "where is my order SK-1002",
                                                               "metadata": {"message_id": f"{s}-2"}})
                                        for s in senders))
        await asyncio.sleep(1.5)  # longer than the lease: the stalled turns' locks lapse inside Redis
    finally:
        resume(own_redis)
    for resp in during:
        assert resp.status == 503 and resp.headers["Retry-After"]
        assert (await resp.json())["reason"] in ("timeout", "pool_exhausted")
    started = time.monotonic()
    retried = await asyncio.gather(*(client.post(URL, json={"sender": s, "message": "where is my order SK-1002",
                                                            "metadata": {"message_id": f"{s}-2"}})
                                     for s in senders))
    assert [r.status for r in retried] == [200] * len(senders)
    assert time.monotonic() - started < 4
    sessions = client.app[assistant_key].sessions
    for sender in senders:
        users = [e["text"] for e in (await sessions.load(sender)).history if e["event"] == "user"]
        # the stalled turn was saved at most once, even if its save ran when Redis resumed
        assert users == ["hi", "where is my order SK-1002"]


async def test_a_resent_message_id_is_answered_once(client):
    first = await client.post(URL, json={"sender": "m1", "message": "where is my order SK-1002",
                                         "metadata": {"message_id": "wamid.1"}})
    again = await client.post(URL, json={"sender": "m1", "message": "where is my order SK-1002",
                                         "metadata": {"message_id": "wamid.1"}})
    assert first.status == again.status == 200
    assert await first.json() == await again.json()
    history = (await client.app[assistant_key].sessions.load("m1")).history
    assert sum(e["event"] == "user" for e in history) == 1


async def test_a_reused_message_id_with_another_text_is_a_new_message(client):
    """A client that restarts its ids must not lose messages."""
    await client.post(URL, json={"sender": "m2", "message": "where is my order SK-1002",
                                 "metadata": {"message_id": "1"}})
    resp = await client.post(URL, json={"sender": "m2", "message": "thanks", "metadata": {"message_id": "1"}})
    assert "SK-1002" not in " ".join(m.get("text", "") for m in await resp.json())
    history = (await client.app[assistant_key].sessions.load("m2")).history
    assert [e["text"] for e in history if e["event"] == "user"] == ["where is my order SK-1002", "thanks"]


async def test_a_save_whose_lock_has_lapsed_saves_nothing(client):
    assistant = client.app[assistant_key]
    async with assistant.locks.hold("z1") as held:
        session = await assistant.sessions.load("z1")
        session.record({"event": "user", "text": "late"})
        stale = (held.key, held.ticket + 1)  # another turn's ticket holds the lock now
        with pytest.raises(SessionStoreUnavailable) as raised:
            await assistant.sessions.save(session, fence=stale)
        assert raised.value.reason == LOCK_LOST
        await assistant.sessions.save(session, fence=held.fence)
        await assistant.sessions.save(Session("z1"), fence=held.fence)  # an empty second save is harmless
    assert [e["text"] for e in (await assistant.sessions.load("z1")).history] == ["late"]


def _post(port: int, path: str, body: dict | None = None, timeout: float = 30) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_two_worker_processes_keep_one_conversations_messages_in_order(config, models, redis_server, tmp_path):
    """`shopkeep run --workers 2` on the shared Redis: both workers serve, a
    conversation's messages are handled in order, and a killed worker is replaced."""
    proc, port = start_server(config.data_dir, redis_server.url, tmp_path / "server.log", workers=2)
    try:
        workers = set()
        for _ in range(40):  # a new connection each time: the kernel spreads them over the workers
            workers.add(_post(port, "/health")[1]["worker"])
        assert len(workers) == 2
        sender = f"ordered-{port}"
        sent = [f"[{i}] where is my order SK-100{i % 4 + 1}" for i in range(12)]
        for text in sent:  # one after the other, over connections that land on either worker
            assert _post(port, "/webhooks/rest/webhook", {"sender": sender, "message": text})[0] == 200

        async def burst() -> list[int]:
            import aiohttp

            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
                async def one(i):
                    async with http.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                         json={"sender": sender,
                                               "message": f"Do you accept PayPal? (burst {i})"}) as resp:
                        return resp.status
                return await asyncio.gather(*(one(i) for i in range(10)))

        assert asyncio.run(burst()) == [200] * 10

        async def stored() -> list[dict]:
            import redis.asyncio as redis

            client = redis.from_url(redis_server.url)
            rows = await client.lrange(f"shopkeep:history:{sender}", 0, -1)  # the demo config's prefix
            await client.aclose()
            return [json.loads(r) for r in rows]

        events = [e for e in asyncio.run(stored()) if e["event"] in ("user", "bot")]
        users = [e["text"] for e in events if e["event"] == "user"]
        burst = sorted(f"Do you accept PayPal? (burst {i})" for i in range(10))
        assert users[:12] == sent and sorted(users[12:]) == burst
        kinds = ",".join(e["event"] for e in events)
        # turns never interleave across the workers (each message here is answered: none goes to a person,
        # which would make the bot silent)
        assert "user,user" not in kinds

        killed, survivor = workers
        os.kill(killed, signal.SIGKILL)  # a worker crashes: the parent starts another
        deadline = time.monotonic() + 30
        served: set[int] = set()
        while len(served) < 2 and time.monotonic() < deadline:
            try:
                served.add(_post(port, "/health", timeout=5)[1]["worker"])
            except OSError:
                time.sleep(0.1)
        assert survivor in served and killed not in served and len(served) == 2, served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
