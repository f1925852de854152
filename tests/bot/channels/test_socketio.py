"""Rasa's socket.io channel (bot/channels/socketio.py), spoken by python-socketio's
own client the way rasa-webchat speaks it: sessions with signed ids, replies in
Rasa's exact shapes, the outbound path, forged ids, rate limits and origins
(real Redis, real models, the bot on a real port)."""

import asyncio
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
import socketio

from bot.server import init_app
from bot.typedefs import outbox_key, tokens_key

pytestmark = pytest.mark.integration

EVENTS = ("session_confirm", "bot_uttered", "shopkeep_error")
SHIPPING = "How long does shipping take?"


def widget_config(config, **settings):
    return replace(config, channels=replace(config.channels, widget=replace(config.channels.widget, **settings)))


@pytest.fixture
async def server(aiohttp_server, config, models):
    return await aiohttp_server(init_app(config, models))


class Client:
    """A socket.io client that queues every channel event it receives, in order."""

    def __init__(self):
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue = asyncio.Queue()
        for name in EVENTS:
            self.sio.on(name, self._queue(name))

    def _queue(self, name: str):
        async def handler(data=None):
            await self.events.put((name, data))
        return handler

    async def connect(self, server, headers: dict | None = None) -> "Client":
        await self.sio.connect(str(server.make_url("/")), socketio_path="/socket.io", headers=headers or {},
                               wait_timeout=10)
        return self

    async def next(self, timeout: float = 30) -> tuple[str, object]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def session(self, session_id: str | None = None) -> str:
        await self.sio.emit("session_request", {} if session_id is None else {"session_id": session_id})
        name, token = await self.next()
        assert name == "session_confirm" and isinstance(token, str) and token
        return token

    async def quiet(self, for_s: float = 0.5) -> list[tuple[str, object]]:
        """Whatever else arrives within `for_s` seconds."""
        await asyncio.sleep(for_s)
        return self.drain()

    def drain(self) -> list[tuple[str, object]]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out

    async def say(self, text: str, session_id: str) -> list[tuple[str, object]]:
        """Send one message as rasa-webchat does; the events it got. The server's
        handler returns after the turn's replies were emitted, so an ack
        (which rasa-webchat does not ask for) marks the end of the turn."""
        await self.sio.call("user_uttered", {"message": text, "session_id": session_id,
                                             "customData": {"language": "en"}}, timeout=30)
        return await self.quiet(0.1)

    async def close(self) -> None:
        await self.sio.disconnect()


@pytest.fixture
async def clients():
    made: list[Client] = []

    async def connect(server, headers: dict | None = None) -> Client:
        client = await Client().connect(server, headers)
        made.append(client)
        return client

    yield connect
    for client in made:
        await client.close()


def uttered(events) -> list[dict]:
    return [data for name, data in events if name == "bot_uttered"]


def check_shape(payload: dict) -> str:
    """The one allowed shape `payload` has (rasa-webchat rejects extra keys), or an AssertionError."""
    assert isinstance(payload, dict)
    if set(payload) == {"text"}:
        assert isinstance(payload["text"], str) and payload["text"]
        return "text"
    if set(payload) == {"text", "quick_replies"}:
        assert isinstance(payload["text"], str) and payload["text"] and payload["quick_replies"]
        for reply in payload["quick_replies"]:
            assert set(reply) == {"content_type", "title", "payload"} and reply["content_type"] == "text"
            assert isinstance(reply["title"], str) and isinstance(reply["payload"], str)
        return "quick_replies"
    assert set(payload) == {"attachment"}, payload
    attachment = payload["attachment"]
    assert set(attachment) == {"type", "payload"}, attachment
    if attachment["type"] == "image":
        assert set(attachment["payload"]) == {"src"} and attachment["payload"]["src"]
        return "image"
    assert attachment["type"] == "template", attachment
    template = attachment["payload"]
    assert set(template) == {"template_type", "elements"} and template["template_type"] == "generic"
    assert template["elements"]
    for element in template["elements"]:
        assert {"title", "subtitle"} <= set(element) <= {"title", "subtitle", "image_url", "buttons"}, element
        for button in element.get("buttons", []):
            assert set(button) == {"type", "url", "title"} and button["type"] == "web_url"
    return "template"


def conversation_of(token: str) -> str:
    return token.split(".", 1)[0]


async def test_a_session_gets_a_signed_id_and_a_question_its_answer_with_a_source_link(server, clients):
    first, second = await clients(server), await clients(server)
    token, other = await first.session(), await second.session()
    assert token != other
    assert server.app[tokens_key].verify(token) == conversation_of(token)
    assert len(conversation_of(token)) == 32 and conversation_of(token) != conversation_of(other)
    assert await first.quiet(0.2) == []  # a new conversation has nothing to replay
    events = await first.say(SHIPPING, token)
    assert [name for name, _ in events if name != "bot_uttered"] == []
    replies = uttered(events)
    assert replies and all(check_shape(p) for p in replies)
    answer = next(p["text"] for p in replies if "3 to 5 business days" in p.get("text", ""))
    assert "\n\nSource: [How long does shipping take?](" in answer
    assert await second.quiet(0.1) == []  # the other conversation hears nothing


async def test_the_greeting_carries_its_buttons_as_quick_replies(server, clients):
    client = await clients(server)
    token = await client.session()
    replies = uttered(await client.say("hi", token))
    assert [check_shape(p) for p in replies] == ["quick_replies"]
    assert replies[0]["text"].startswith("Hi! I'm the Maple & Pine assistant.")
    assert replies[0]["quick_replies"] == [
        {"content_type": "text", "title": "Track my order", "payload": "Where is my order?"},
        {"content_type": "text", "title": "Shipping times", "payload": SHIPPING},
        {"content_type": "text", "title": "Returns", "payload": "What is your return policy?"},
    ]


async def test_a_product_answer_carries_a_generic_template_product_card(server, clients):
    client = await clients(server)
    token = await client.session()
    replies = uttered(await client.say("Do you sell a Dutch oven?", token))
    shapes = [check_shape(p) for p in replies]
    assert "template" in shapes and shapes[0] in ("text", "quick_replies")
    elements = next(p for p in replies if "attachment" in p)["attachment"]["payload"]["elements"]
    card = next(e for e in elements if "Dutch Oven" in e["title"])
    assert set(card) == {"title", "subtitle", "image_url", "buttons"}
    assert card["title"] == "Enamelled Dutch Oven 5.5 qt" and card["subtitle"] == "129.00 USD In stock"
    assert card["image_url"].endswith("KT-102.svg")
    assert card["buttons"] == [{"type": "web_url", "url": card["buttons"][0]["url"], "title": "View"}]
    assert card["buttons"][0]["url"]


async def test_links_and_images_point_at_the_bot_server(server, clients):
    client = await clients(server)
    token = await client.session()
    replies = uttered(await client.say(SHIPPING, token)) + uttered(await client.say("Do you sell a Dutch oven?", token))
    card = next(p for p in replies if "attachment" in p)["attachment"]["payload"]["elements"][0]
    link = next(p["text"] for p in replies if "Source: [" in p.get("text", "")).rsplit("](", 1)[1].rstrip(")")
    bot = str(server.make_url("/")).rstrip("/")
    for url in (link, card["image_url"], card["buttons"][0]["url"]):
        assert urlsplit(url).scheme in ("http", "https") and url.startswith(bot), url


async def test_a_reconnect_keeps_the_id_and_gets_what_arrived_meanwhile_once(server, clients):
    outbox = server.app[outbox_key]
    client = await clients(server)
    token = await client.session()
    greeting = uttered(await client.say("hi", token))
    assert greeting
    await client.close()
    async with asyncio.timeout(10):  # the server has seen the disconnect: nobody holds the conversation
        while outbox.open_sockets:
            await asyncio.sleep(0.02)
    await outbox.deliver(conversation_of(token), [{"text": "A person here: your parcel left."}], role="agent")

    again = await clients(server)
    assert await again.session(token) == token
    assert await again.next(10) == ("bot_uttered", {"text": "A person here: your parcel left."})
    assert await again.quiet() == []  # neither the greeting nor the person's message again
    await again.close()

    third = await clients(server)  # and a later reconnect has nothing new to replay
    assert await third.session(token) == token
    assert await third.quiet() == []
    replies = uttered(await third.say(SHIPPING, token))  # the conversation goes on
    assert any("3 to 5 business days" in p.get("text", "") for p in replies)


@pytest.mark.parametrize("forge", [
    lambda token: "abc",
    lambda token: conversation_of(token),  # the bare conversation id, without its signature
    lambda token: token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAA",  # a real id, a wrong signature
], ids=["junk", "unsigned-id", "wrong-signature"])
async def test_a_forged_session_id_gets_a_new_conversation(server, clients, forge):
    owner = await clients(server)
    token = await owner.session()
    await owner.say("hi", token)
    intruder = await clients(server)
    forged = forge(token)
    got = await intruder.session(forged)
    assert got not in (forged, token) and conversation_of(got) != conversation_of(token)
    assert server.app[tokens_key].verify(got) == conversation_of(got)
    assert await intruder.quiet() == []  # nothing of the owner's conversation


async def test_deliver_reaches_the_connected_client(server, clients):
    client = await clients(server)
    token = await client.session()
    await asyncio.wait_for(server.app[outbox_key].listening.wait(), 10)
    await server.app[outbox_key].deliver(conversation_of(token), [{"text": "Your refund was issued."}],
                                         role="agent")
    assert await client.next(10) == ("bot_uttered", {"text": "Your refund was issued."})
    assert await client.quiet(0.3) == []


async def test_a_burst_over_the_rate_limit_gets_429_and_a_message_saying_so(aiohttp_server, config, models, clients):
    server = await aiohttp_server(init_app(widget_config(config, rate_limit_conversation="3/minute"), models))
    client = await clients(server)
    token = await client.session()
    errors, refusals = [], []
    for n in range(5):
        events = await client.say(f"hi number {n}", token)
        errors += [data for name, data in events if name == "shopkeep_error"]
        refusals += [p for p in uttered(events) if "not processed" in p.get("text", "")]
        assert all(check_shape(p) for p in uttered(events))
    assert [e["status"] for e in errors] == [429, 429]
    assert errors[0]["reason"] == "rate_limited" and errors[0]["retry_after_s"] >= 1
    assert "too many messages in this conversation" in errors[0]["error"]
    assert len(refusals) == 2 and refusals[0]["text"].startswith("Sorry, your message was not processed: too many")
    assert client.sio.connected  # the connection stays up


async def test_a_foreign_origin_is_refused_and_an_allowed_one_or_none_accepted(aiohttp_server, config, models,
                                                                                clients):
    server = await aiohttp_server(init_app(widget_config(config, allowed_origins=("https://shop.example.com",)),
                                           models))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Client().connect(server, headers={"Origin": "https://evil.example.net"})
    for headers in ({"Origin": "https://shop.example.com"}, {"Origin": f"http://{server.host}:{server.port}"}, {}):
        client = await clients(server, headers)  # the store, the bot's own page, a non-browser client
        assert await client.session()


async def test_a_customer_token_in_custom_data_reaches_the_order_actions(server, clients, config):
    """rasa-webchat's customData carries the store page's token for a logged-in shopper: their order
    is shown without the e-mail question; nothing else from customData reaches the actions."""
    import time

    import jwt

    from actions import store_data

    secret = "socketio-test-secret-of-enough-length!"
    store_data.use(replace(config, store=replace(config.store, customer_token_secret=secret)), store_data.shop(),
                   on=store_data.today())
    token = jwt.encode({"email": "sam.lee@example.com", "exp": int(time.time()) + 600}, secret, algorithm="HS256")
    client = await clients(server)
    session = await client.session()
    await client.sio.call("user_uttered", {"message": "where is order SK-1002", "session_id": session,
                                           "customData": {"customer_token": token, "language": "en"}}, timeout=30)
    replies = " ".join(p.get("text", "") for p in uttered(await client.quiet(0.3)))
    assert "Merino Wool Throw" in replies and "e-mail address" not in replies
