"""What the console's tests share: agents, a logged-in console client, the REST channel to talk as a shopper."""

import pytest

from bot.console.agents import AgentStore
from bot.sessions.redis_client import connect
from tests.bot.channels.test_widget_socket import ask, entries, frames_until
from tests.bot.channels.test_widget_socket import connect as connect_widget

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


class WidgetShopper:
    """A shopper on the website widget's WebSocket (a channel a person's replies reach live)."""

    def __init__(self, ws, conversation_id: str):
        self.ws = ws
        self.id = conversation_id

    @classmethod
    async def open(cls, client) -> "WidgetShopper":
        ws, welcome = await connect_widget(client)
        return cls(ws, welcome["conversation_id"])

    async def says(self, text: str) -> list[dict]:
        """The bot's messages in answer to `text` ([] while a person has the conversation)."""
        return [e["message"] for e in entries(await ask(self.ws, text), "bot")]

    async def hears(self, role: str = "agent", timeout: float = 10) -> dict:
        """The next message from `role` that arrives on the socket."""
        frames = await frames_until(self.ws, lambda f: f["type"] == "entry" and f["role"] == role, timeout)
        return frames[-1]
