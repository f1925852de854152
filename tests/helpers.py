"""Helpers for talking to the bot in tests."""

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def say(client, sender: str, message: str) -> list[dict]:
    resp = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def texts(messages: list[dict]) -> str:
    return " ".join(m.get("text", "") for m in messages)
