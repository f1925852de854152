"""What the console's tests share: agents, a logged-in console client, the REST channel to talk as a shopper."""

import pytest

from bot.console.agents import AgentStore
from bot.sessions.redis_client import connect

PASSWORD = "correct horse battery"


@pytest.fixture
async def agent_store(config):
    client = connect(config.sessions.redis_url, 5, 5, 5)
    store = AgentStore(client, config.sessions.key_prefix)
    await store.add("ada", PASSWORD, "admin")
    await store.add("bob", PASSWORD, "agent")
    yield store
    await client.aclose()


async def login(client, name: str = "ada", password: str = PASSWORD) -> dict:
    """Log `client` in; returns the headers its state-changing requests need (the CSRF token)."""
    resp = await client.post("/console/api/login", json={"name": name, "password": password})
    assert resp.status == 200, await resp.text()
    return {"X-CSRF-Token": (await resp.json())["csrf"]}


async def shopper_says(client, sender: str, text: str) -> list[dict]:
    resp = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert resp.status == 200, await resp.text()
    return await resp.json()
