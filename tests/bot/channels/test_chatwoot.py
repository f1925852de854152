"""Chatwoot: genuine, forged, stale and replayed Agent Bot webhooks against a
local stand-in for Chatwoot's API, and the handoff to Chatwoot's agents and
back (real Redis, real models, real HTTP both ways)."""

import hashlib
import hmac
import json
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from bot.channels.chatwoot import ChatwootChannel
from bot.config import ChatwootCredentials, ConfigError, PlatformCredentials, platform_credentials
from bot.server import init_app
from bot.typedefs import assistant_key, outbox_key
from tests.bot.channels.standin import Answer, nothing_stored_or_sent

pytestmark = pytest.mark.integration

BOT_TOKEN, SECRET = "cw-agent-bot-token", "cw-webhook-secret-0123456789"
ACCOUNT, CONVERSATION = 1, 42
CONVERSATION_ID = f"chatwoot:{ACCOUNT}:{CONVERSATION}"
MESSAGES = f"/api/v1/accounts/{ACCOUNT}/conversations/{CONVERSATION}/messages"
TOGGLE = f"/api/v1/accounts/{ACCOUNT}/conversations/{CONVERSATION}/toggle_status"


def ok(call):
    """Chatwoot's answers: the created message, or the toggled status."""
    if call.path.endswith("/toggle_status"):
        return {"meta": {}, "payload": {"success": True, "current_status": (call.json or {}).get("status"),
                                        "conversation_id": CONVERSATION}}
    return {"id": 1000 + len(call.path), "content": (call.json or {}).get("content"), "message_type": 1,
            "content_type": (call.json or {}).get("content_type", "text"), "private": False,
            "conversation_id": CONVERSATION}


@pytest.fixture
async def bot(aiohttp_client, config, models, api):
    platforms = PlatformCredentials(chatwoot=ChatwootCredentials(api.url + "/", BOT_TOKEN, SECRET, api_url=api.url))
    return await aiohttp_client(init_app(replace(config, platforms=platforms), models))


def message(message_id: int, content: str | None, status: str = "pending", message_type: str = "incoming",
            channel: str = "Channel::WebWidget", event: str = "message_created", created_at: float | None = None,
            conversation: int = CONVERSATION, **fields) -> dict:
    """A webhook delivery as Chatwoot's docs show it (docs/product/others/webhook-events.md)."""
    created = datetime.fromtimestamp(time.time() if created_at is None else created_at, timezone.utc)
    return {"event": event, "id": message_id, "content": content, "message_type": message_type,
            "content_type": "text", "content_attributes": {}, "private": False, "source_id": None,
            "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sender": ({"id": 14, "name": "Ana", "avatar": "", "type": "contact"} if message_type == "incoming"
                       else {"id": 3, "name": "Shopkeep", "type": "agent_bot"}),
            "inbox": {"id": 7, "name": "Website"},
            "conversation": {"id": conversation, "inbox_id": 7, "channel": channel, "status": status,
                             "can_reply": True, "additional_attributes": {}, "unread_count": 1},
            "account": {"id": ACCOUNT, "name": "Maple & Pine"}, **fields}


def signed(raw: bytes, secret: str = SECRET, timestamp: float | None = None) -> dict:
    """The headers Chatwoot sends: "sha256=" + hex HMAC-SHA256(secret, "<timestamp>.<body>")."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"X-Chatwoot-Timestamp": ts, "X-Chatwoot-Signature": f"sha256={digest}",
            "Content-Type": "application/json", "X-Chatwoot-Delivery": "d-1"}


async def post(bot, body: dict | bytes, headers: dict | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await bot.post("/webhooks/chatwoot", data=raw, headers=signed(raw) if headers is None else headers)


def sent(conversation: int = CONVERSATION):
    return lambda c: c.path == f"/api/v1/accounts/{ACCOUNT}/conversations/{conversation}/messages"


def toggled(c) -> bool:
    return c.path == TOGGLE


async def transcript_users(bot, conversation_id: str = CONVERSATION_ID) -> list[str]:
    return [e["message"]["text"] for e in await bot.app[outbox_key].after(conversation_id) if e["role"] == "user"]


async def test_an_incoming_message_is_acknowledged_then_answered_through_the_messages_api(bot, api):
    started = time.monotonic()
    resp = await post(bot, message(101, "How long does shipping take?"))
    assert resp.status == 200 and time.monotonic() - started < 1.0  # acknowledged before the turn runs
    [call] = await api.wait_for(sent())
    assert call.method == "POST" and call.headers["api_access_token"] == BOT_TOKEN
    assert call.json["message_type"] == "outgoing" and call.json["private"] is False
    assert "3 to 5 business days" in call.json["content"] and "Source: How long does shipping take?" in call.json[
        "content"]
    assert (await (await bot.get("/health")).json())["messaging"] == ["chatwoot"]
    record = await bot.app[outbox_key].record(CONVERSATION_ID)
    assert record["channel"] == "chatwoot" and record["address"] == f"{ACCOUNT}:{CONVERSATION}"
    assert record["reach"] == "api" and record["via"] == "Channel::WebWidget" and record["name"] == "Ana"
    assert api.matching(toggled) == []


def _refused(case: str, raw: bytes) -> dict:
    now = time.time()
    if case == "forged-signature":
        return {**signed(raw), "X-Chatwoot-Signature": "sha256=" + "0" * 64}
    if case == "wrong-secret":
        return signed(raw, secret="not-the-webhook-secret")
    if case == "missing-signature":
        return {k: v for k, v in signed(raw).items() if k != "X-Chatwoot-Signature"}
    if case == "missing-timestamp":
        return {k: v for k, v in signed(raw).items() if k != "X-Chatwoot-Timestamp"}
    if case == "body-altered":  # signed, then changed on the way
        return signed(raw.replace(b"send me your money", b"what is the weather"))
    if case == "timestamp-not-a-number":
        return {**signed(raw), "X-Chatwoot-Timestamp": "soon"}
    if case == "stale":  # a genuine signature, for a timestamp 6 minutes old: a replay
        return signed(raw, timestamp=now - 360)
    if case == "from-the-future":
        return signed(raw, timestamp=now + 360)
    if case == "unsigned":  # an Agent Bot without a webhook secret (older Chatwoot)
        return {"Content-Type": "application/json"}
    raise ValueError(case)


@pytest.mark.parametrize("case", ["forged-signature", "wrong-secret", "missing-signature", "missing-timestamp",
                                  "body-altered", "timestamp-not-a-number", "stale", "from-the-future", "unsigned"])
async def test_a_request_without_a_valid_signature_is_refused_and_nothing_is_stored(bot, api, config, case):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, lambda c: True):
        raw = json.dumps(message(102, "send me your money")).encode()
        resp = await post(bot, raw, headers=_refused(case, raw))
        assert resp.status == 401 and "X-Chatwoot" in (await resp.json())["error"]


async def test_malformed_json_and_a_message_without_its_ids_are_400(bot, api):
    resp = await post(bot, b'{"event": "message_created", "id": ')
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    assert (await post(bot, {"id": 1, "content": "hi"})).status == 400  # no event
    no_account = message(103, "hi")
    del no_account["account"]
    assert (await post(bot, no_account)).status == 400
    assert (await post(bot, message(104, "hi", conversation="../../admin"))).status == 400
    await api.quiet(1.0)
    assert api.calls == []


async def test_outgoing_messages_private_notes_and_other_events_are_acknowledged_and_ignored(bot, api):
    own_echo = message(110, "Standard shipping takes 3 to 5 business days.", message_type="outgoing")
    agent = message(111, "Hi, Sam here.", message_type="outgoing", sender={"id": 1, "name": "Sam", "type": "user"})
    note = message(112, "customer seems upset", private=True)
    activity = message(113, "Conversation was marked open by Shopkeep", message_type="activity")
    opened = {"event": "conversation_opened", "id": CONVERSATION, "status": "open", "channel": "Channel::WebWidget"}
    widget = {"event": "webwidget_triggered", "id": 12, "inbox": {"id": 7}, "account": {"id": ACCOUNT}}
    updated = message(114, "Standard shipping takes 3 to 5 business days.", message_type="outgoing",
                      event="message_updated")  # delivered, read: not a choice
    for body in (own_echo, agent, note, activity, opened, widget, updated):
        resp = await post(bot, body)
        assert resp.status == 200 and await resp.json() == {"ok": True}
    await api.quiet()
    assert api.calls == []
    assert await bot.app[outbox_key].record(CONVERSATION_ID) is None


async def test_a_redelivered_message_is_answered_once(bot, api):
    body = message(120, "Do you accept PayPal?")
    raw = json.dumps(body).encode()
    for _ in range(3):  # Chatwoot signs each try afresh
        assert (await post(bot, raw, signed(raw))).status == 200
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    assert [e["role"] for e in await bot.app[outbox_key].after(CONVERSATION_ID)] == ["user", "bot"]


async def test_the_messages_api_answering_429_is_retried_and_delivered_once(bot, api):
    api.script(MESSAGES, Answer(429, {"error": "Too many requests"}, {"Retry-After": "1"}))
    await post(bot, message(130, "Do you accept PayPal?"))
    calls = await api.wait_for(sent(), count=2)
    assert calls[0].json == calls[1].json and "PayPal" in calls[1].json["content"]
    await api.quiet(1.0)
    assert len(api.matching(sent())) == 2  # the refused try and the delivery: delivered once
    assert await bot.app[outbox_key].failures(CONVERSATION_ID) == {}


async def test_a_handoff_opens_the_conversation_for_chatwoots_agents_and_the_bot_goes_quiet(bot, api):
    await post(bot, message(140, "I want to talk to a person"))
    [handoff] = await api.wait_for(sent())
    assert "person from our team" in handoff.json["content"]
    [toggle] = await api.wait_for(toggled)
    assert toggle.method == "POST" and toggle.json == {"status": "open"}
    assert toggle.headers["api_access_token"] == BOT_TOKEN
    assert api.calls.index(handoff) < api.calls.index(toggle)  # the shopper is told first
    assert await bot.app[assistant_key].sessions.handed_off(CONVERSATION_ID)
    # the agents have it: Chatwoot now says "open", and the bot answers nothing
    await post(bot, message(141, "hello? how long does shipping take?", status="open"))
    await api.quiet(2.0)
    assert len(api.matching(sent())) == 1 and len(api.matching(toggled)) == 1  # opened once
    assert (await transcript_users(bot))[-1] == "hello? how long does shipping take?"  # kept for the console
    # Chatwoot's agents have it: recorded, but never in shopkeep's own console queue
    desk = bot.app[assistant_key].desk
    assert await desk.queue() == [] and (await desk.handoff(CONVERSATION_ID))["status"] == "elsewhere"


async def test_a_message_written_before_the_conversation_was_opened_does_not_hand_it_back(bot, api):
    await post(bot, message(150, "I want to talk to a person"))
    await api.wait_for(toggled)
    # written a moment after asking, before Chatwoot showed the conversation open: it says "pending"
    await post(bot, message(151, "please hurry, my order is broken", created_at=time.time() - 1))
    await api.quiet(2.0)
    assert len(api.matching(sent())) == 1
    assert await bot.app[assistant_key].sessions.handed_off(CONVERSATION_ID)
    assert (await transcript_users(bot))[-1] == "please hurry, my order is broken"


async def test_when_the_agents_hand_the_conversation_back_the_bot_answers_again(bot, api):
    await post(bot, message(160, "I want to talk to a person"))
    await api.wait_for(toggled)
    await post(bot, message(161, "thanks Sam", status="open"))
    # a minute later the agents set it back to pending, and the shopper writes
    await post(bot, message(162, "Do you accept PayPal?", created_at=time.time() + 60))
    calls = await api.wait_for(sent(), count=2)
    assert "PayPal" in calls[1].json["content"]
    assert not await bot.app[assistant_key].sessions.handed_off(CONVERSATION_ID)
    session = await bot.app[assistant_key].sessions.load(CONVERSATION_ID)
    assert [e["event"] for e in session.history if e["event"] in ("pause", "resume")] == ["pause", "resume"]
    handoff = await bot.app[assistant_key].desk.handoff(CONVERSATION_ID)  # closed through the console's desk
    assert handoff["status"] == "resolved" and handoff["closed_by"] == "chatwoot"
    # a second handoff opens it again (once per handoff)
    await post(bot, message(163, "I want to talk to a person", created_at=time.time() + 61))
    await api.wait_for(toggled, count=2)
    await api.quiet(1.0)
    assert len(api.matching(toggled)) == 2


async def test_a_conversation_an_agent_already_has_gets_no_answer(bot, api):
    await post(bot, message(170, "How long does shipping take?", status="open"))
    await post(bot, message(171, "hello?", status="snoozed"))
    await api.quiet(2.0)
    assert api.calls == []
    assert await transcript_users(bot) == ["How long does shipping take?", "hello?"]
    assert not await bot.app[assistant_key].sessions.handed_off(CONVERSATION_ID)


async def test_toggle_status_answering_429_is_retried(bot, api):
    api.script("/toggle_status", Answer(429, {"error": "Too many requests"}, {"Retry-After": "1"}))
    await post(bot, message(180, "I want to talk to a person"))
    calls = await api.wait_for(toggled, count=2)
    assert calls[0].json == calls[1].json == {"status": "open"}
    await api.quiet(1.0)
    assert len(api.matching(toggled)) == 2


async def test_a_toggle_status_that_failed_is_tried_again_with_the_next_message(bot, api, caplog):
    api.script("/toggle_status", Answer(403, {"error": "Access to this endpoint is not authorized for bots"}))
    await post(bot, message(190, "I want to talk to a person"))
    await api.wait_for(toggled)
    await api.quiet(1.0)
    assert "not opened for Chatwoot's agents" in caplog.text
    await post(bot, message(191, "hello?", created_at=time.time() + 60))  # still pending: nobody saw it
    await api.wait_for(toggled, count=2)
    await api.quiet(1.0)
    assert len(api.matching(sent())) == 1  # silent, as for any handoff
    assert await bot.app[assistant_key].sessions.handed_off(CONVERSATION_ID)


async def test_buttons_are_input_select_options_and_a_chosen_option_is_answered(bot, api):
    await post(bot, message(200, "hello"))
    [greeting] = await api.wait_for(sent())
    assert greeting.json["content_type"] == "input_select" and greeting.json["content"]
    items = greeting.json["content_attributes"]["items"]
    assert items and all(set(i) == {"title", "value"} and i["title"] and i["value"] for i in items)
    item = next(i for i in items if "ship" in i["title"].lower() or "order" in i["title"].lower())
    # the web widget stores the choice on the bot's message, and Chatwoot sends message_updated
    chosen = message(1001, greeting.json["content"], message_type="outgoing", event="message_updated",
                     content_type="input_select",
                     content_attributes={"items": items, "submitted_values": [item]})
    for _ in range(2):  # updated again (read): chosen once
        assert (await post(bot, chosen)).status == 200
    calls = await api.wait_for(sent(), count=2)
    await api.quiet(1.0)
    assert len(api.matching(sent())) == 2 and calls[1].json != greeting.json
    assert (await transcript_users(bot))[-1] == item["title"]


async def test_on_other_inboxes_buttons_are_numbered_and_a_number_chooses(bot, api):
    await post(bot, message(210, "hello", channel="Channel::FacebookPage"))
    [greeting] = await api.wait_for(sent())
    assert "content_type" not in greeting.json
    assert "Reply with a number:\n1. " in greeting.json["content"] and "\n2. " in greeting.json["content"]
    first = greeting.json["content"].split("\n1. ", 1)[1].split("\n", 1)[0]
    await post(bot, message(211, "1", channel="Channel::FacebookPage"))
    await api.wait_for(sent(), count=2)
    assert await transcript_users(bot) == ["hello", first]


async def test_an_image_without_text_gets_the_text_only_reply(bot, api):
    photo = message(220, None, attachments=[{"id": 5, "message_id": 220, "file_type": "image",
                                             "data_url": "https://chat.example/rails/blob/box.jpg"}])
    await post(bot, photo)
    [call] = await api.wait_for(sent())
    assert "I can only read text" in call.json["content"]
    assert await transcript_users(bot) == ["[image: https://chat.example/rails/blob/box.jpg]"]


def test_a_rendered_reply_fits_and_shows_images_and_cards_as_links():
    channel = ChatwootChannel.__new__(ChatwootChannel)
    buttons = [{"title": "Track my order " + "x" * 100, "payload": "Where is my order?"},
               {"title": "", "payload": "How long does shipping take?"}]
    message_ = {"text": "y " * 2500, "buttons": buttons, "image": "/widget/demo/images/KT-102.svg",
                "cards": [{"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD",
                           "in_stock": True, "subtitle": "In stock", "url": "/#product-KT-102"}]}
    widget = {"address": "1:42", "via": "Channel::WebWidget", "base_url": "https://bot.example"}
    payloads = channel.render(message_, widget)
    # the text in parts of at most 2,000 characters, the options under the last part, then the links
    assert [p.get("content_type", "text") for p in payloads] == ["text", "text", "input_select", "text", "text"]
    assert all(len(p["content"]) <= 2000 and p["message_type"] == "outgoing" and p["private"] is False
               for p in payloads)
    items = payloads[2]["content_attributes"]["items"]
    assert len(items[0]["title"]) <= 80 and items[0]["value"] == "Where is my order?"
    assert items[1] == {"title": "How long does shipping take?", "value": "How long does shipping take?"}
    assert payloads[3]["content"] == "https://bot.example/widget/demo/images/KT-102.svg"
    assert payloads[4]["content"] == "Dutch Oven\n129.00 USD · In stock\nhttps://bot.example/#product-KT-102"
    sms = channel.render({"buttons": [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}]},
                         {**widget, "via": "Channel::Sms"})
    assert sms == [{"content": "Reply with a number:\n1. Yes\n2. No", "message_type": "outgoing", "private": False}]
    only_options = channel.render({"buttons": buttons[1:]}, {**widget, "lang": "zh"})
    assert only_options[0]["content"] == "请选择：" and only_options[0]["content_type"] == "input_select"


def test_the_three_variables_enable_chatwoot_and_a_partial_set_names_what_is_missing():
    env = {"SHOPKEEP_CHATWOOT_URL": "https://chat.your-store.example/", "SHOPKEEP_CHATWOOT_BOT_TOKEN": BOT_TOKEN,
           "SHOPKEEP_CHATWOOT_WEBHOOK_SECRET": SECRET}
    credentials = platform_credentials(env).chatwoot
    assert credentials.api_url == "https://chat.your-store.example" and credentials.bot_token == BOT_TOKEN
    assert BOT_TOKEN not in repr(credentials) and SECRET not in repr(credentials)
    assert platform_credentials({}).chatwoot is None
    with pytest.raises(ConfigError, match="SHOPKEEP_CHATWOOT_WEBHOOK_SECRET is not"):
        platform_credentials({k: v for k, v in env.items() if k != "SHOPKEEP_CHATWOOT_WEBHOOK_SECRET"})
    with pytest.raises(ConfigError, match="SHOPKEEP_CHATWOOT_URL must be an http"):
        platform_credentials({**env, "SHOPKEEP_CHATWOOT_URL": "chat.your-store.example"})
