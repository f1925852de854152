"""Sessions saved to and loaded from a real Redis."""

import uuid

import pytest
import redis.asyncio as redis

from bot.sessions.embedded_redis import EmbeddedRedis
from bot.sessions.store import Session, SessionStore, SessionStoreUnavailable


@pytest.fixture
async def store(redis_server):
    client = redis.from_url(redis_server.url)
    yield SessionStore(client, prefix=f"s{uuid.uuid4().hex[:8]}", ttl_s=100, history_limit=5)
    await client.aclose()


async def test_new_conversation_starts_empty(store):
    session = await store.load("nobody")
    assert session.sender_id == "nobody" and session.history == [] and session.slots == {}


async def test_state_and_history_round_trip(store):
    session = await store.load("s1")
    session.slots["order_id"] = "SK-1001"
    session.active_form = "order_status_form"
    session.handoff = {"since": 1.0, "reason": "human_handoff"}
    session.record({"event": "user", "text": "hi 你好"})
    await store.save(session)
    again = await store.load("s1")
    assert again.slots == {"order_id": "SK-1001"} and again.active_form == "order_status_form"
    assert again.handoff["reason"] == "human_handoff"
    assert [e["text"] for e in again.history] == ["hi 你好"]


async def test_history_is_capped_and_keys_expire(store):
    session = await store.load("s2")
    for i in range(8):
        session.record({"event": "user", "text": str(i)})
        await store.save(session)
    again = await store.load("s2")
    assert [e["text"] for e in again.history] == ["3", "4", "5", "6", "7"]
    for key in (f"{store.prefix}:session:s2", f"{store.prefix}:history:s2"):
        assert 0 < await store.client.ttl(key) <= 100


async def test_unreachable_redis_raises_unavailable():
    client = redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    store = SessionStore(client)
    assert await store.ping() is False
    with pytest.raises(SessionStoreUnavailable):
        await store.load("x")
    with pytest.raises(SessionStoreUnavailable):
        await store.save(Session("x"))
    await client.aclose()


async def test_embedded_redis_keeps_sessions_across_a_restart(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    client = redis.from_url(server.url)
    store = SessionStore(client)
    session = await store.load("persist")
    session.record({"event": "user", "text": "remember me"})
    await store.save(session)
    await client.aclose()
    server.stop()
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    client = redis.from_url(server.url)
    assert [e["text"] for e in (await SessionStore(client).load("persist")).history] == ["remember me"]
    await client.aclose()
    server.stop()


def test_a_second_shopkeep_on_the_same_data_directory_leaves_the_running_redis_alone(tmp_path):
    import socket

    from bot.sessions.embedded_redis import EmbeddedRedis, EmbeddedRedisError

    first = EmbeddedRedis(tmp_path / "redis")
    first.start()
    try:
        with pytest.raises(EmbeddedRedisError, match="another shopkeep .* is running"):
            EmbeddedRedis(tmp_path / "redis").start()
        with socket.create_connection(("127.0.0.1", first.port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            assert s.recv(16).startswith(b"+PONG")  # still serving the first one
    finally:
        first.stop()
    second = EmbeddedRedis(tmp_path / "redis")  # once the first has stopped, the directory is free
    second.start()
    second.stop()
