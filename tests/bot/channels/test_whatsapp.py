"""WhatsApp Cloud API: genuine, forged and replayed webhooks against a local
stand-in for the Graph API (real Redis, real models, real HTTP both ways)."""

import hashlib
import hmac
import json
import time
from dataclasses import replace

import pytest

from bot.channels.meta import WINDOW_CLOSED
from bot.channels.webhooks import MEDIA_REPLY
from bot.channels.whatsapp import WhatsAppChannel
from bot.config import MetaCredentials, PlatformCredentials
from bot.server import init_app
from bot.typedefs import outbox_key, redis_key
from tests.bot.channels.standin import Answer, meta_signed, nothing_stored_or_sent

pytestmark = pytest.mark.integration

APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN = "app-s3cret", "verify-me-1", "EAAG-test-token"
PHONE_ID, WA_ID = "106540352242922", "16315551181"


def ok(call):
    to = (call.json or {}).get("to", "")
    return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.out{len(call.path)}"}]}


@pytest.fixture
async def bot(aiohttp_client, config, models, api):
    platforms = PlatformCredentials(meta=MetaCredentials(APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN, api_url=api.url))
    return await aiohttp_client(init_app(replace(config, platforms=platforms), models))


def notification(*messages: dict, wa_id: str = WA_ID, **value) -> dict:
    """A webhook body as the Cloud API sends it, with `messages` from `wa_id`."""
    body = {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID}, **value}
    if messages:
        body["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": wa_id}]
        body["messages"] = list(messages)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": body, "field": "messages"}]}]}


def text(message_id: str, body: str, wa_id: str = WA_ID, **extra) -> dict:
    return {"from": wa_id, "id": message_id, "timestamp": str(int(time.time())), "type": "text",
            "text": {"body": body}, **extra}


def signed(body, secret: str = APP_SECRET) -> tuple[bytes, dict]:
    return meta_signed(body, secret)


async def post(bot, body, secret: str = APP_SECRET):
    raw, headers = signed(body, secret)
    return await bot.post("/webhooks/whatsapp", data=raw, headers=headers)


def sent(wa_id: str = WA_ID):
    return lambda c: c.path == f"/{PHONE_ID}/messages" and c.json.get("to") == wa_id


async def test_a_question_is_acknowledged_then_answered_through_the_send_api(bot, api):
    started = time.monotonic()
    resp = await post(bot, notification(text("wamid.1", "How long does shipping take?")))
    assert resp.status == 200 and time.monotonic() - started < 1.0  # acknowledged before the turn runs
    [call] = await api.wait_for(sent())
    assert call.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert {k: call.json[k] for k in ("messaging_product", "recipient_type", "type")} == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "type": "text"}
    assert "3 to 5 business days" in call.json["text"]["body"]
    assert "Source: How long does shipping take?" in call.json["text"]["body"]
    assert "/sources/shipping-times" in call.json["text"]["body"]  # an absolute link to the store's own text
    record = await bot.app[outbox_key].record(f"whatsapp:{WA_ID}")
    assert record["channel"] == "whatsapp" and record["via"] == PHONE_ID and record["name"] == "Ana"


def _forged(body: bytes) -> dict:
    return {"X-Hub-Signature-256": "sha256=" + "0" * 64}


def _wrong_secret(body: bytes) -> dict:
    return signed(body, "not-the-app-secret")[1]


def _altered(body: bytes) -> dict:
    return signed(body.replace(b"send me", b"sent me"))[1]  # signed before a byte changed


def _sha1(body: bytes) -> dict:
    return {"X-Hub-Signature": "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()}


@pytest.mark.parametrize("headers", [lambda body: {}, _forged, _wrong_secret, _altered, _sha1],
                         ids=["missing-header", "forged-signature", "wrong-app-secret", "altered-body",
                              "sha1-only"])
async def test_a_request_without_a_valid_signature_is_refused_and_nothing_is_stored(bot, api, config, headers):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, sent()):
        raw = json.dumps(notification(text("wamid.2", "send me your money"))).encode()
        resp = await bot.post("/webhooks/whatsapp", data=raw, headers={"Content-Type": "application/json",
                                                                       **headers(raw)})
        assert resp.status == 401 and "X-Hub-Signature-256" in (await resp.json())["error"]


async def test_malformed_json_is_400(bot, api):
    resp = await post(bot, b'{"object": "whatsapp_business_account", "entry": [')
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    resp = await post(bot, {"object": "whatsapp_business_account"})
    assert resp.status == 400


async def test_the_subscription_handshake_echoes_the_challenge_only_for_the_verify_token(bot):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    resp = await bot.get("/webhooks/whatsapp", params=query)
    assert resp.status == 200 and resp.content_type == "text/plain" and await resp.text() == "1158201444"
    for wrong in ({**query, "hub.verify_token": "guess"}, {**query, "hub.mode": "unsubscribe"},
                  {"hub.challenge": "1158201444"}):
        resp = await bot.get("/webhooks/whatsapp", params=wrong)
        assert resp.status == 403 and "1158201444" not in await resp.text()


async def test_a_redelivered_message_is_answered_once(bot, api):
    body = notification(text("wamid.4", "Do you accept PayPal?"))
    for _ in range(3):
        assert (await post(bot, body)).status == 200
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    transcript = await bot.app[outbox_key].after(f"whatsapp:{WA_ID}")
    assert [e["role"] for e in transcript] == ["user", "bot"]


@pytest.mark.parametrize("answer", [
    Answer(429, {"error": {"message": "Too many requests", "type": "OAuthException", "code": 130429,
                           "fbtrace_id": "A1"}}, {"Retry-After": "1"}),
    Answer(400, {"error": {"message": "(#4) Application request limit reached", "type": "OAuthException",
                           "code": 4, "error_subcode": 2494055, "fbtrace_id": "A2"}}),
], ids=["429-retry-after", "graph-code-4"])
async def test_a_rate_limited_send_is_retried_and_delivered_once(bot, api, answer):
    api.script(f"/{PHONE_ID}/messages", answer)
    await post(bot, notification(text("wamid.5", "Do you accept PayPal?")))
    calls = await api.wait_for(sent(), count=2)
    assert calls[0].json == calls[1].json and "PayPal" in calls[1].json["text"]["body"]
    await api.quiet()
    assert len(api.matching(sent())) == 2
    assert (await bot.app[outbox_key].failures(f"whatsapp:{WA_ID}")) == {}


async def test_outside_the_24_hour_window_nothing_is_sent_and_the_failure_is_logged_and_recorded(bot, api, caplog):
    await post(bot, notification(text("wamid.6", "Do you accept PayPal?")))
    await api.wait_for(sent())
    conversation_id = f"whatsapp:{WA_ID}"
    outbox = bot.app[outbox_key]
    # a day later the shopper has not written again, and a person answers from the console
    await outbox.open(conversation_id, "whatsapp", WA_ID, "en", via=PHONE_ID,
                      last_inbound_at=str(time.time() - 25 * 3600))
    [entry] = await outbox.deliver(conversation_id, [{"text": "Sorry for the wait, yes we do."}], role="agent")
    await api.quiet(1.0)
    assert len(api.matching(sent())) == 1  # only the first answer
    failures = await outbox.failures(conversation_id)
    assert failures[entry["id"]]["reason"].startswith(WINDOW_CLOSED)
    assert "not sent" in caplog.text and WINDOW_CLOSED in caplog.text


async def test_metas_re_engagement_error_is_recorded_as_a_closed_window_without_retrying(bot, api):
    api.script(f"/{PHONE_ID}/messages", Answer(400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
        "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than "
                       "24 hours have passed since the customer last replied to this number."},
        "fbtrace_id": "A3"}}))
    await post(bot, notification(text("wamid.7", "Do you accept PayPal?")))
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    [failure] = (await bot.app[outbox_key].failures(f"whatsapp:{WA_ID}")).values()
    assert WINDOW_CLOSED in failure["reason"] and "131047" in failure["reason"]


async def test_the_greeting_has_reply_buttons_and_a_press_is_answered(bot, api):
    await post(bot, notification(text("wamid.10", "hello")))
    [greeting] = await api.wait_for(sent())
    assert greeting.json["type"] == "interactive"
    interactive = greeting.json["interactive"]
    assert interactive["type"] == "button" and len(interactive["body"]["text"]) <= 1024
    buttons = [b["reply"] for b in interactive["action"]["buttons"]]
    assert 1 <= len(buttons) <= 3 and all(len(b["title"]) <= 20 and len(b["id"]) <= 256 for b in buttons)
    button = next(b for b in buttons if "ship" in b["title"].lower())
    press = {"from": WA_ID, "id": "wamid.11", "timestamp": str(int(time.time())), "type": "interactive",
             "context": {"from": "15550783881", "id": "wamid.out"},
             "interactive": {"type": "button_reply", "button_reply": button}}
    assert (await post(bot, notification(press))).status == 200
    [_, answer] = await api.wait_for(sent(), count=2)
    assert "3 to 5 business days" in answer.json["text"]["body"]
    transcript = await bot.app[outbox_key].after(f"whatsapp:{WA_ID}")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"][-1] == button["title"]


async def test_statuses_and_other_fields_are_acknowledged_and_ignored(bot, api, caplog):
    failed = {"id": "wamid.out", "status": "failed", "timestamp": str(int(time.time())), "recipient_id": WA_ID,
              "errors": [{"code": 131047, "title": "Re-engagement message"}]}
    delivered = {**failed, "status": "delivered"}
    delivered.pop("errors")
    reaction = {"from": WA_ID, "id": "wamid.20", "timestamp": str(int(time.time())), "type": "reaction",
                "reaction": {"message_id": "wamid.out", "emoji": "👍"}}
    other_field = notification()
    other_field["entry"][0]["changes"][0]["field"] = "account_update"
    for body in (notification(statuses=[delivered, failed]), notification(reaction), other_field,
                 {"object": "page", "entry": []}):
        assert (await post(bot, body)).status == 200
    await api.quiet()
    assert api.matching() == []
    assert "wamid.out" in caplog.text and "Re-engagement message" in caplog.text  # the failure is logged


async def test_an_image_without_a_caption_and_a_location_get_the_text_only_reply(bot, api):
    now = str(int(time.time()))
    image = {"from": WA_ID, "id": "wamid.30", "timestamp": now, "type": "image",
             "image": {"mime_type": "image/jpeg", "sha256": "abc", "id": "1003383421387256"}}
    location = {"from": WA_ID, "id": "wamid.31", "timestamp": now, "type": "location",
                "location": {"latitude": 51.5, "longitude": -0.12, "name": "Shop", "address": "1 Main St"}}
    for message in (image, location):
        await post(bot, notification(message))
    calls = await api.wait_for(sent(), count=2)
    assert all(c.json["text"]["body"] == MEDIA_REPLY["en"] for c in calls)
    transcript = await bot.app[outbox_key].after(f"whatsapp:{WA_ID}")
    shown = [e["message"]["text"] for e in transcript if e["role"] == "user"]
    assert shown == ["[image: id 1003383421387256]", "[location: 51.5, -0.12, Shop, 1 Main St]"]


async def test_several_messages_in_one_body_are_each_answered(bot, api):
    body = notification(text("wamid.40", "Do you accept PayPal?"), text("wamid.41", "Do you accept PayPal?",
                                                                         wa_id="4915112345678"))
    body["entry"][0]["changes"][0]["value"]["contacts"].append({"profile": {"name": "Ben"}, "wa_id": "4915112345678"})
    assert (await post(bot, body)).status == 200
    await api.wait_for(sent())
    await api.wait_for(sent("4915112345678"))
    assert (await bot.app[outbox_key].record("whatsapp:4915112345678"))["name"] == "Ben"


# -- rendering ----------------------------------------------------------------------

RECORD = {"id": f"whatsapp:{WA_ID}", "address": WA_ID, "via": PHONE_ID, "base_url": "https://bot.example"}


def render(message: dict, record: dict = RECORD) -> list[dict]:
    return WhatsAppChannel.__new__(WhatsAppChannel).render(message, record)


def buttons(n: int, title: str = "Option number {} with a long title") -> list[dict]:
    return [{"title": title.format(i), "payload": f"/choose{{\"option\": {i}}}"} for i in range(1, n + 1)]


def test_three_buttons_are_reply_buttons_with_titles_that_fit():
    [payload] = render({"text": "Pick one", "buttons": buttons(3, "Option {}")})
    assert payload["type"] == "interactive" and payload["interactive"]["type"] == "button"
    replies = [b["reply"] for b in payload["interactive"]["action"]["buttons"]]
    assert [r["title"] for r in replies] == ["Option 1", "Option 2", "Option 3"]
    assert replies[0]["id"] == '/choose{"option": 1}' and payload["interactive"]["body"] == {"text": "Pick one"}


def test_reply_button_titles_that_would_be_cut_alike_become_a_list():
    [payload] = render({"text": "Which order?", "buttons": buttons(3, "Track my order number SK-100{}")})
    interactive = payload["interactive"]  # each would be "Track my order numb…" as a reply button
    rows = interactive["action"]["sections"][0]["rows"]
    assert interactive["type"] == "list" and all(len(r["title"]) <= 24 for r in rows)
    assert [r["description"] for r in rows] == [f"Track my order number SK-100{i}" for i in (1, 2, 3)]


def test_short_distinct_titles_cut_to_20_characters_stay_reply_buttons():
    message = {"text": "Pick", "buttons": [{"title": "Track my order please now", "payload": "track"},
                                           {"title": "Returns", "payload": "returns"}]}
    [payload] = render(message)
    replies = [b["reply"] for b in payload["interactive"]["action"]["buttons"]]
    assert replies[0]["title"] == "Track my order plea…" and all(len(r["title"]) <= 20 for r in replies)


def test_five_buttons_are_a_list_within_its_limits():
    [payload] = render({"text": "Pick one", "buttons": buttons(5)})
    interactive = payload["interactive"]
    assert interactive["type"] == "list" and len(interactive["action"]["button"]) <= 20
    [section] = interactive["action"]["sections"]
    assert len(section["title"]) <= 24 and len(section["rows"]) == 5
    for i, row in enumerate(section["rows"], 1):
        assert len(row["title"]) <= 24 and len(row["description"]) <= 72 and len(row["id"]) <= 200
        assert row["description"] == f"Option number {i} with a long title"


def test_more_than_ten_buttons_are_numbered_options_in_the_text():
    [payload] = render({"text": "Pick one", "buttons": buttons(11, "Option {}")})
    assert payload["type"] == "text"
    assert payload["text"]["body"].endswith("Reply with a number:\n1. Option 1\n2. Option 2\n3. Option 3\n"
                                            "4. Option 4\n5. Option 5\n6. Option 6\n7. Option 7\n8. Option 8\n"
                                            "9. Option 9\n10. Option 10\n11. Option 11")


def test_long_texts_are_split_and_an_interactive_body_stays_within_1024_characters():
    long = " ".join(f"Sentence number {i} says something about shipping." for i in range(200))
    parts = render({"text": long})
    assert len(parts) == 3 and all(p["type"] == "text" and len(p["text"]["body"]) <= 4096 for p in parts)
    assert " ".join(p["text"]["body"] for p in parts) == long
    with_buttons = render({"text": long, "buttons": buttons(2, "Choice {}")})
    *texts, last = with_buttons
    assert last["type"] == "interactive" and len(last["interactive"]["body"]["text"]) <= 1024
    assert all(len(p["text"]["body"]) <= 4096 for p in texts)
    assert " ".join([*(p["text"]["body"] for p in texts), last["interactive"]["body"]["text"]]) == long


def test_cards_and_images_need_an_absolute_picture_whatsapp_shows():
    card = {"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD", "in_stock": True,
            "subtitle": "In stock", "url": "/#product-KT-102"}
    message = {"text": "Here it is", "image": "/widget/demo/images/KT-102.svg",
               "cards": [{**card, "image": "/widget/demo/images/KT-102.svg"}, {**card, "image": "/img/kt-102.png"}]}
    [intro, svg_card, png_card] = render(message)
    assert intro["text"]["body"] == "Here it is"  # the SVG picture is left out
    assert svg_card["type"] == "text"
    assert svg_card["text"]["body"] == "Dutch Oven\n129.00 USD · In stock\nhttps://bot.example/#product-KT-102"
    assert png_card["type"] == "image" and png_card["image"]["link"] == "https://bot.example/img/kt-102.png"
    assert png_card["image"]["caption"].startswith("Dutch Oven")
    assert all(p["to"] == WA_ID and p["messaging_product"] == "whatsapp" for p in (intro, svg_card, png_card))


async def test_a_number_chooses_among_more_options_than_whatsapp_shows_as_buttons(bot, api):
    await post(bot, notification(text("wamid.n1", "hello")))
    await api.wait_for(sent())
    options = [{"title": f"Option {i}", "payload": f"/opt{i}"} for i in range(1, 12)]
    options[1] = {"title": "Talk to a person", "payload": "I want to talk to a human"}
    await bot.app[outbox_key].deliver(f"whatsapp:{WA_ID}", [{"text": "Which one?", "buttons": options}],
                                      role="agent")
    [numbered] = [c for c in await api.wait_for(sent(), count=2)][1:]
    assert numbered.json["type"] == "text" and "2. Talk to a person" in numbered.json["text"]["body"]
    await post(bot, notification(text("wamid.n2", " 2. ")))
    calls = await api.wait_for(sent(), count=3)
    assert "person from our team" in json.dumps(calls[-1].json)  # the option's payload ran
    transcript = await bot.app[outbox_key].after(f"whatsapp:{WA_ID}")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"][-1] == "Talk to a person"
    # the handoff reply had no options: a later "2" is just "2"
    assert await bot.app[redis_key].get(f"{bot.app[outbox_key].prefix}:options:whatsapp:{WA_ID}") is None
