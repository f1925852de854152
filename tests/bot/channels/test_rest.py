"""The REST channel's contract, and what bad input and faults get."""

import logging
from dataclasses import replace

import pytest

from bot.server import init_app
from tests.helpers import say

pytestmark = pytest.mark.integration
URL = "/webhooks/rest/webhook"


async def test_reply_is_a_list_of_rasa_messages(client):
    resp = await client.post(URL, json={"sender": "r1", "message": "hi", "metadata": {"page": "/cart"}})
    assert resp.status == 200
    body = await resp.json()
    assert isinstance(body, list) and body[0]["recipient_id"] == "r1" and body[0]["text"]


async def test_health_endpoints(client):
    resp = await client.get("/health")
    body = await resp.json()
    assert resp.status == 200 and body["redis"] == "ok"
    assert body["models"]["lm"] == "none" and body["models"]["intents"].startswith("ready")
    assert (await client.get("/webhooks/rest/")).status == 200


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"message": "hi"}', "'sender'"),
    (b'{"sender": "", "message": "hi"}', "'sender'"),
    (b'{"sender": "x"}', "'message'"),
    (b'{"sender": "x", "message": 5}', "'message'"),
    (b'{"sender": "x", "message": "hi", "metadata": "nope"}', "'metadata'"),
    (b"\xff\xfe\x00", "not valid JSON"),
])
async def test_malformed_requests_get_400_with_a_json_error(client, body, fragment):
    resp = await client.post(URL, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert fragment in (await resp.json())["error"]


async def test_numeric_sender_is_accepted_like_rasa(client):
    resp = await client.post(URL, json={"sender": 42, "message": "hi"})
    assert resp.status == 200 and (await resp.json())[0]["recipient_id"] == "42"


async def test_oversized_message_gets_413(client, config):
    limit = config.server.max_message_chars
    resp = await client.post(URL, json={"sender": "big", "message": "a" * (limit + 1)})
    assert resp.status == 413
    assert (await resp.json())["limit"] == limit


async def test_oversized_body_gets_413(client, config):
    resp = await client.post(URL, data=b'{"sender": "x", "message": "' + b"a" * config.server.max_body_bytes + b'"}',
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert "larger than" in (await resp.json())["error"]


async def test_redis_unreachable_gets_503(aiohttp_client, config, models):
    closed = replace(config, sessions=replace(config.sessions, redis_url="redis://127.0.0.1:1/0"))
    client = await aiohttp_client(init_app(closed, models))
    resp = await client.post(URL, json={"sender": "x", "message": "hi"})
    assert resp.status == 503
    body = await resp.json()
    assert "Redis" in body["error"] and body["reason"] == "down" and resp.headers["Retry-After"] == "1"
    health = await client.get("/health")
    assert health.status == 503 and (await health.json())["redis"].startswith("down")


async def test_redis_going_away_mid_conversation_gets_503_and_nothing_half_written(
        aiohttp_client, config, models, tmp_path):
    from bot.sessions.embedded_redis import EmbeddedRedis
    from bot.typedefs import assistant_key

    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    own = replace(config, sessions=replace(config.sessions, redis_url=server.url))
    client = await aiohttp_client(init_app(own, models))
    await say(client, "gone", "hi")
    before = await client.app[assistant_key].sessions.load("gone")
    server.stop()
    resp = await client.post(URL, json={"sender": "gone", "message": "where is my order"})
    assert resp.status == 503
    server.start()  # same files, same port: the append-only log brings the data back
    after = await client.app[assistant_key].sessions.load("gone")
    assert after.history == before.history and after.active_form is None
    server.stop()


async def test_an_action_that_raises_gets_an_apology_and_a_log_line(aiohttp_client, config, models,
                                                                      monkeypatch, caplog):
    from actions.order_status import ActionOrderStatus

    async def broken(self, dispatcher, tracker, domain):
        raise RuntimeError("order system down")

    monkeypatch.setattr(ActionOrderStatus, "run", broken)  # before the app registers its actions
    client = await aiohttp_client(init_app(config, models))
    await say(client, "unlucky", "where is order SK-1002?")  # asks for the order's e-mail address
    with caplog.at_level(logging.ERROR):
        messages = await say(client, "unlucky", "sam.lee@example.com")
    assert "something went wrong" in messages[-1]["text"]
    assert any("unlucky" in r.getMessage() and "order system down" in r.getMessage() for r in caplog.records)
    # the conversation goes on
    assert (await say(client, "unlucky", "hi"))[0]["text"]
