"""The widget's WebSocket, spoken by a plain client: the protocol, the
outbound path, and what bad input gets (real Redis, real models)."""

import asyncio
import uuid
from dataclasses import replace

import aiohttp
import pytest

from bot.server import init_app
from bot.typedefs import outbox_key

pytestmark = pytest.mark.integration


def origin(client) -> dict:
    return {"Origin": f"http://{client.host}:{client.port}"}


async def connect(client, token: str = "", after: str = "", headers: dict | None = None):
    ws = await client.ws_connect(f"/widget/ws?token={token}&after={after}", headers=headers or origin(client))
    welcome = await ws.receive_json(timeout=10)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def frames_until(ws, stop, timeout: float = 30) -> list[dict]:
    """Frames up to and including the first for which `stop(frame)` is true."""
    out = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            out.append(frame)
            if stop(frame):
                return out


def typing_off(frame: dict) -> bool:
    return frame["type"] == "typing" and not frame["on"]


async def ask(ws, text: str, client_id: str | None = None) -> list[dict]:
    client_id = client_id or uuid.uuid4().hex
    await ws.send_json({"type": "message", "client_id": client_id, "text": text})
    return await frames_until(ws, typing_off)


def entries(frames: list[dict], role: str | None = None) -> list[dict]:
    return [f for f in frames if f["type"] == "entry" and (role is None or f["role"] == role)]


async def test_a_question_gets_a_receipt_then_the_answer_with_its_source(client):
    ws, welcome = await connect(client)
    assert len(welcome["conversation_id"]) == 32 and welcome["token"].startswith(welcome["conversation_id"])
    frames = await ask(ws, "How long does shipping take?", "c1")
    user, bot = entries(frames, "user"), entries(frames, "bot")
    assert user[0]["client_id"] == "c1" and user[0]["message"] == {"text": "How long does shipping take?"}
    assert bot and bot[0]["reply_to"] == "c1"
    message = bot[0]["message"]
    assert "3 to 5 business days" in message["text"]
    assert message["sources"][0] == {"id": "shipping-times", "title": "How long does shipping take?",
                                     "url": "/sources/shipping-times"}
    page = await client.get(message["sources"][0]["url"])
    assert page.status == 200 and "Express shipping takes 1 to 2 business days" in await page.text()
    assert [f["type"] for f in frames].index("entry") > [f["type"] for f in frames].index("typing")


async def test_a_product_answer_carries_a_product_card(client):
    ws, _ = await connect(client)
    frames = await ask(ws, "Do you sell a Dutch oven?")
    cards = [c for e in entries(frames, "bot") for c in e["message"].get("cards", [])]
    assert cards and cards[0]["sku"] == "KT-102" and cards[0]["price"] == "129.00"
    assert cards[0]["image"].endswith("KT-102.svg") and cards[0]["url"]


async def test_reconnecting_replays_only_what_the_client_has_not_seen_and_a_resend_adds_nothing(client):
    ws, welcome = await connect(client)
    first = entries(await ask(ws, "hi", "m1"))
    await ws.close()
    # offline: a person's message is kept for the shopper
    await client.app[outbox_key].deliver(welcome["conversation_id"], [{"text": "A person here: your parcel left."}],
                                         role="agent")
    ws, again = await connect(client, welcome["token"], after=first[-1]["id"])
    assert again["conversation_id"] == welcome["conversation_id"]
    replay = await frames_until(ws, lambda f: f["type"] == "entry" and f["role"] == "agent")
    assert [f["message"]["text"] for f in entries(replay)] == ["A person here: your parcel left."]
    # the widget resends a message whose receipt it never got: shown once, not answered twice
    frames = await ask(ws, "hi", "m1")
    assert entries(frames) == []
    everything = await client.app[outbox_key].after(welcome["conversation_id"])
    assert [e["client_id"] for e in everything if e["role"] == "user"] == ["m1"]
    # a page load (no `after`) gets the whole transcript, in order
    ws2, _ = await connect(client, welcome["token"])
    transcript = entries(await frames_until(ws2, lambda f: f["type"] == "entry" and f["role"] == "agent"))
    assert [e["id"] for e in transcript] == [e["id"] for e in everything]


async def test_deliver_reaches_every_open_socket_of_the_conversation(client):
    ws1, welcome = await connect(client)
    ws2, _ = await connect(client, welcome["token"])
    await client.app[outbox_key].deliver(welcome["conversation_id"], [{"text": "Your refund was issued."}],
                                         role="agent")
    for ws in (ws1, ws2):
        frame = (await frames_until(ws, lambda f: f["type"] == "entry"))[-1]
        assert frame["message"]["text"] == "Your refund was issued." and frame["role"] == "agent"
        await ws.send_json({"type": "ack", "id": frame["id"]})
    await asyncio.sleep(0.2)
    assert await client.app[outbox_key].acked(welcome["conversation_id"]) == frame["id"]


@pytest.mark.parametrize("token", ["deadbeef", "0123456789abcdef0123456789abcdef.AAAAAA.forged-signature"])
async def test_a_forged_token_gets_401(client, token):
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(f"/widget/ws?token={token}", headers=origin(client))
    assert caught.value.status == 401


async def test_another_conversations_id_cannot_be_used_without_its_token(client):
    _, welcome = await connect(client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(f"/widget/ws?token={welcome['conversation_id']}", headers=origin(client))
    assert caught.value.status == 401


async def test_an_expired_token_gets_401(aiohttp_client, config, models):
    from bot.typedefs import tokens_key

    client = await aiohttp_client(init_app(config, models))
    _, welcome = await connect(client)
    client.app[tokens_key].max_age_s = -1
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(f"/widget/ws?token={welcome['token']}", headers=origin(client))
    assert caught.value.status == 401


async def test_a_foreign_origin_is_refused_and_an_allowed_one_accepted(aiohttp_client, config, models):
    widget = replace(config.channels.widget, allowed_origins=("https://shop.example.com",))
    client = await aiohttp_client(init_app(replace(config, channels=replace(config.channels, widget=widget)), models))
    for headers in ({"Origin": "https://evil.example.net"}, {}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await client.ws_connect("/widget/ws", headers=headers)
        assert caught.value.status == 403
    await connect(client, headers={"Origin": "https://shop.example.com"})
    await connect(client)  # the bot's own demo page


async def test_a_burst_over_the_rate_limits_gets_429(aiohttp_client, config, models):
    widget = replace(config.channels.widget, rate_limit_conversation="3/minute", connections_per_ip="4/minute")
    client = await aiohttp_client(init_app(replace(config, channels=replace(config.channels, widget=widget)), models))
    ws, _ = await connect(client)
    statuses = []
    for n in range(5):
        frames = await ask(ws, f"hi number {n}")
        statuses += [f["status"] for f in frames if f["type"] == "error"]
    assert statuses == [429, 429]
    error = [f for f in frames if f["type"] == "error"][0]
    assert error["retry_after_s"] >= 1 and error["client_id"] and "too many" in error["error"]
    assert not ws.closed  # the connection stays up
    for _ in range(3):
        await connect(client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/widget/ws", headers=origin(client))
    assert caught.value.status == 429


async def test_an_oversized_frame_closes_the_socket_with_a_reason(client, config):
    ws, _ = await connect(client)
    await ws.send_str('{"type": "message", "client_id": "x", "text": "' + "a" * config.channels.widget.max_frame_bytes
                      + '"}')
    message = await ws.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG and message.extra


@pytest.mark.parametrize("frame, fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "\"type\""),
    ('{"type": "dance"}', "\"type\""),
    ('{"type": "message", "text": "hi"}', "client_id"),
    ('{"type": "ack", "id": "yesterday"}', "entry id"),
])
async def test_a_malformed_frame_gets_an_error_event_and_the_socket_stays_up(client, frame, fragment):
    ws, _ = await connect(client)
    await ws.send_str(frame)
    error = await ws.receive_json(timeout=10)
    assert error["type"] == "error" and error["status"] == 400 and fragment in error["error"]
    assert entries(await ask(ws, "hi"), "bot")


async def test_an_empty_or_oversized_message_gets_an_error_and_is_not_processed(client, config):
    ws, welcome = await connect(client)
    for text, status in (("   ", 400), ("a" * (config.server.max_message_chars + 1), 413)):
        frames = await ask(ws, text)
        assert [f["status"] for f in frames if f["type"] == "error"] == [status]
    assert await client.app[outbox_key].after(welcome["conversation_id"]) == []


async def test_redis_going_away_gets_a_503_event_and_the_message_can_be_resent(aiohttp_client, config, models,
                                                                              tmp_path):
    from bot.sessions.embedded_redis import EmbeddedRedis

    redis = EmbeddedRedis(tmp_path / "r")
    url = redis.start()
    own = replace(config, sessions=replace(config.sessions, redis_url=url))
    client = await aiohttp_client(init_app(own, models))
    ws, welcome = await connect(client)
    redis.stop()
    frames = await ask(ws, "hi", "lost-1")
    error = [f for f in frames if f["type"] == "error"][0]
    assert error["status"] == 503 and error["client_id"] == "lost-1" and error["retry_after_s"] == 1
    redis = EmbeddedRedis(tmp_path / "r", port=int(url.rsplit(":", 1)[1].split("/")[0]))
    redis.start()
    try:
        frames = await ask(ws, "hi", "lost-1")
        assert [e["client_id"] for e in entries(frames, "user")] == ["lost-1"] and entries(frames, "bot")
    finally:
        await ws.close()
        redis.stop()


async def test_closing_the_page_mid_turn_still_delivers_the_reply(client):
    ws, welcome = await connect(client)
    await ws.send_json({"type": "message", "client_id": "leaving", "text": "How long does shipping take?"})
    receipt = (await frames_until(ws, lambda f: f["type"] == "entry" and f["role"] == "user"))[-1]
    await ws.close()  # the shopper reloads while the answer is being written
    ws, _ = await connect(client, welcome["token"], after=receipt["id"])
    reply = (await frames_until(ws, lambda f: f["type"] == "entry" and f["role"] == "bot"))[-1]
    assert reply["reply_to"] == "leaving" and "3 to 5 business days" in reply["message"]["text"]


async def test_the_widget_can_ask_whether_its_token_is_still_good(client):
    _, welcome = await connect(client)
    good = await client.get(f"/widget/token?token={welcome['token']}", headers=origin(client))
    assert good.status == 200 and (await good.json())["valid"]
    assert good.headers["Access-Control-Allow-Origin"] == origin(client)["Origin"]
    forged = await client.get("/widget/token?token=abc.def.ghi", headers=origin(client))
    assert forged.status == 401 and (await forged.json())["reason"] == "token_invalid"
    foreign = await client.get(f"/widget/token?token={welcome['token']}", headers={"Origin": "https://evil.example"})
    assert foreign.status == 403


async def test_every_conversation_remembers_its_channel_and_a_rest_one_cannot_be_reached_later(client, caplog):
    from tests.helpers import say

    _, welcome = await connect(client)
    outbox = client.app[outbox_key]
    assert (await outbox.record(welcome["conversation_id"]))["channel"] == "widget"
    await say(client, "rest-shopper", "hi")
    assert (await outbox.record("rest-shopper"))["channel"] == "rest"
    entries = await outbox.deliver("rest-shopper", [{"text": "A person replied."}], role="agent")
    assert entries and "cannot send later messages" in caplog.text  # kept in its transcript, and said so


def test_the_access_log_masks_conversation_tokens(caplog):
    import logging

    from aiohttp.test_utils import make_mocked_request
    from aiohttp.web import Response

    from bot.server import AccessLog

    request = make_mocked_request("GET", "/widget/ws?token=abc.def.ghi&after=1-0")
    with caplog.at_level(logging.INFO):
        AccessLog(logging.getLogger("aiohttp.access"), "").log(request, Response(status=101), 0.01)
    assert "token=***&after=1-0" in caplog.text and "abc.def" not in caplog.text


async def test_behind_a_trusted_proxy_rate_limits_count_each_shopper(aiohttp_client, config, models):
    widget = replace(config.channels.widget, connections_per_ip="2/minute")
    own = replace(config, server=replace(config.server, trusted_proxies=("127.0.0.1",)),
                  channels=replace(config.channels, widget=widget))
    client = await aiohttp_client(init_app(own, models))
    for n in range(4):  # four shoppers behind the proxy
        await connect(client, headers={**origin(client), "X-Forwarded-For": f"203.0.113.{n}"})
    await connect(client, headers={**origin(client), "X-Forwarded-For": "203.0.113.0"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/widget/ws", headers={**origin(client), "X-Forwarded-For": "203.0.113.0"})
    assert caught.value.status == 429
