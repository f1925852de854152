"""The per-conversation ticket lock, across separate Redis clients (as separate processes would be)."""

import asyncio
import uuid

import pytest
import redis.asyncio as redis

from bot.sessions.lock import ConversationLock, LockTimeout
from bot.sessions.store import SessionStoreUnavailable


@pytest.fixture
async def clients(redis_server):
    a, b = redis.from_url(redis_server.url), redis.from_url(redis_server.url)
    yield a, b
    await a.aclose()
    await b.aclose()


def locks(clients, **kwargs):
    prefix = f"lock-{uuid.uuid4().hex[:8]}"
    return [ConversationLock(c, prefix, **kwargs) for c in clients]


async def test_turns_run_one_at_a_time_in_arrival_order(clients):
    lock_a, lock_b = locks(clients)
    entered, inside = [], 0

    async def turn(n: int, lock: ConversationLock):
        nonlocal inside
        async with lock.hold("conv"):
            inside += 1
            assert inside == 1, "two turns of one conversation ran at once"
            entered.append(n)
            await asyncio.sleep(0.02)
            inside -= 1

    tasks = []
    next_ticket = lock_a._keys("conv")[0]
    for n in range(12):
        tasks.append(asyncio.create_task(turn(n, lock_a if n % 2 else lock_b)))
        # a message has arrived once it holds a ticket: wait for that before the next one comes
        while int(await clients[0].get(next_ticket) or 0) < n + 1:
            await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    assert entered == list(range(12))


async def test_other_conversations_do_not_wait(clients):
    lock_a, lock_b = locks(clients, wait_s=0.5)
    async with lock_a.hold("one"):
        async with lock_b.hold("two"):
            pass


def crash(lock_holder_tasks) -> None:
    """What a killed process leaves: a held lock that nobody renews or releases."""
    for task in lock_holder_tasks:
        task.cancel()


def renewals() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__name__ == "_keep_renewed"]


async def test_a_crashed_holder_is_released_when_its_lease_runs_out(clients):
    lock_a, lock_b = locks(clients, lease_s=0.3, wait_s=5)
    holder = lock_a.hold("conv")
    await holder.__aenter__()  # acquired and never released: the worker "died"
    crash(renewals())
    started = asyncio.get_running_loop().time()
    async with lock_b.hold("conv"):
        waited = asyncio.get_running_loop().time() - started
    assert 0.2 < waited < 3


async def test_waiting_too_long_raises_and_does_not_block_later_turns(clients):
    lock_a, lock_b = locks(clients, wait_s=0.2, lease_s=5)
    async with lock_a.hold("conv"):
        with pytest.raises(LockTimeout):
            async with lock_b.hold("conv"):
                pass
    # the given-up ticket is skipped at once, not after a lease
    started = asyncio.get_running_loop().time()
    async with lock_b.hold("conv"):
        assert asyncio.get_running_loop().time() - started < 1


async def test_unreachable_redis_is_reported_as_unavailable():
    client = redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    lock = ConversationLock(client, lease_s=0.2)
    with pytest.raises(SessionStoreUnavailable) as raised:
        async with lock.hold("conv"):
            pass
    assert raised.value.reason == "down"
    await lock.drain(timeout_s=0.1)
    await client.aclose()
