"""The webhook inbox: accepted events are deduplicated, survive the process
that took them, and a Redis that is away gets the platform to retry
(real Redis)."""

import asyncio
import json
import os
import signal
import time
from dataclasses import asdict, replace

import pytest
import redis.asyncio as redis

from bot.channels.webhooks import INBOX_GROUP, Inbound, Inbox
from bot.config import PlatformCredentials, TelegramCredentials
from bot.server import init_app
from bot.sessions.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


def event(n: int, address: str = "1") -> Inbound:
    return Inbound("telegram", str(n), address, text=f"message {n}")


async def test_an_event_id_seen_before_is_not_accepted_again(client):
    prefix = f"inbox{time.monotonic_ns()}"
    inbox = Inbox(client, prefix, handle=None, dedupe_ttl_s=60)
    assert [e.event_id for e in await inbox.accept([event(1), event(2)])] == ["1", "2"]
    assert [e.event_id for e in await inbox.accept([event(2), event(3), event(1)])] == ["3"]
    assert await client.xlen(f"{prefix}:inbox") == 3
    assert 0 < await client.ttl(f"{prefix}:webhook-seen:telegram:1") <= 60


async def test_events_of_one_conversation_run_in_order_and_are_removed_when_done(client):
    prefix = f"inbox{time.monotonic_ns()}"
    handled = []

    async def handle(e: Inbound):
        await asyncio.sleep(0.05 if e.event_id == "1" else 0)  # the first is slower: order must still hold
        handled.append(e.event_id)

    inbox = Inbox(client, prefix, handle, dedupe_ttl_s=60)
    inbox.start()
    try:
        await inbox.accept([event(1), event(2), event(3)])
        async with asyncio.timeout(10):
            while len(handled) < 3:
                await asyncio.sleep(0.02)
    finally:
        await inbox.stop()
    assert handled == ["1", "2", "3"]
    assert await client.xlen(f"{prefix}:inbox") == 0
    assert (await client.xpending(f"{prefix}:inbox", INBOX_GROUP))["pending"] == 0


async def test_an_event_left_unfinished_by_a_dead_process_is_run_by_another(client):
    prefix = f"inbox{time.monotonic_ns()}"
    key = f"{prefix}:inbox"
    await client.xgroup_create(key, INBOX_GROUP, id="0", mkstream=True)
    await client.xadd(key, {"event": json.dumps(asdict(event(7)))})
    # a process read it and died before finishing: it stays pending under that consumer
    taken = await client.xreadgroup(INBOX_GROUP, "dead-process", {key: ">"}, count=1)
    assert taken and taken[0][1]
    handled = []

    async def handle(e: Inbound):
        handled.append(e.event_id)

    inbox = Inbox(client, prefix, handle, dedupe_ttl_s=60, reclaim_after_s=1.0)
    inbox.start()
    try:
        async with asyncio.timeout(10):
            while not handled:
                await asyncio.sleep(0.05)
    finally:
        await inbox.stop()
    assert handled == ["7"]
    assert (await client.xpending(key, INBOX_GROUP))["pending"] == 0


async def test_a_turn_that_cannot_reach_redis_stays_pending_for_another_try(client):
    from bot.sessions.redis_client import SessionStoreUnavailable

    prefix = f"inbox{time.monotonic_ns()}"
    tries = []

    async def handle(e: Inbound):
        tries.append(time.monotonic())
        if len(tries) == 1:
            raise SessionStoreUnavailable("timeout", "Redis did not answer")

    inbox = Inbox(client, prefix, handle, dedupe_ttl_s=60, reclaim_after_s=1.0)
    inbox.start()
    try:
        await inbox.accept([event(9)])
        async with asyncio.timeout(10):
            while len(tries) < 2:
                await asyncio.sleep(0.05)
    finally:
        await inbox.stop()
    assert tries[1] - tries[0] >= 0.9  # tried again after the reclaim delay, not dropped


async def test_a_webhook_while_redis_is_away_gets_503_so_the_platform_retries(aiohttp_client, config, models,
                                                                              tmp_path):
    own = EmbeddedRedis(tmp_path / "redis")
    own.start()
    sessions = replace(config.sessions, redis_url=own.url, command_timeout_s=0.3, pool_timeout_s=0.3)
    platforms = PlatformCredentials(telegram=TelegramCredentials("1:a", "secret", api_url="http://127.0.0.1:9"))
    bot = await aiohttp_client(init_app(replace(config, sessions=sessions, platforms=platforms), models))
    os.kill(own._process.pid, signal.SIGSTOP)
    try:
        body = {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"},
                                            "text": "hi"}}
        resp = await bot.post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": "secret"})
        assert resp.status == 503 and resp.headers["Retry-After"] == "1"
    finally:
        os.kill(own._process.pid, signal.SIGCONT)
        own.stop()


async def test_two_processes_answer_one_conversations_events_in_the_order_they_came(client):
    prefix = f"inbox{time.monotonic_ns()}"
    done = []

    def handler(name: str, delay: float):
        async def handle(e: Inbound):
            await asyncio.sleep(delay)  # the first process is slow: the second must not overtake it
            done.append((e.event_id, name))
        return handle

    first = Inbox(client, prefix, handler("first", 0.5), dedupe_ttl_s=60, concurrency=1)
    second = Inbox(client, prefix, handler("second", 0), dedupe_ttl_s=60, concurrency=1)
    second.consumer = "another-process"
    first.start()
    await asyncio.sleep(0.2)  # its group exists and it is waiting to read
    await first.accept([event(1), event(2), event(3)])
    second.start()
    try:
        async with asyncio.timeout(15):
            while len(done) < 3:
                await asyncio.sleep(0.05)
    finally:
        await first.stop()
        await second.stop()
    assert [event_id for event_id, _ in done] == ["1", "2", "3"]
    assert {name for _, name in done} == {"first", "second"}  # both took part
    assert await client.exists(f"{prefix}:inbox-order:telegram:1") == 0


async def test_an_event_unfinished_at_a_clean_shutdown_is_taken_over_at_once(client, monkeypatch):
    import bot.channels.webhooks as webhooks

    monkeypatch.setattr(webhooks, "STOP_WAIT_S", 0.2)
    prefix = f"inbox{time.monotonic_ns()}"
    started, handled = asyncio.Event(), []

    async def hangs(e: Inbound):  # the platform's send API hangs while the process is stopped
        started.set()
        await asyncio.sleep(60)

    async def handle(e: Inbound):
        handled.append(e.event_id)

    stopping = Inbox(client, prefix, hangs, dedupe_ttl_s=60)
    stopping.start()
    await stopping.accept([event(11)])
    await asyncio.wait_for(started.wait(), 10)
    await stopping.stop()
    restarted = Inbox(client, prefix, handle, dedupe_ttl_s=60, reclaim_after_s=120)
    restarted.consumer = "the-next-process"
    begun = time.monotonic()
    restarted.start()
    try:
        async with asyncio.timeout(10):
            while not handled:
                await asyncio.sleep(0.05)
    finally:
        await restarted.stop()
    assert handled == ["11"] and time.monotonic() - begun < 5  # not after reclaim_after_s (120 s)
