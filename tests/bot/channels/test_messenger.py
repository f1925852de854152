"""Messenger: genuine, forged and replayed webhooks against a local stand-in
for the Graph API's Send API (real Redis, real models, real HTTP both ways)."""

import asyncio
import hashlib
import json
import time
from dataclasses import replace

import pytest

from bot.channels.messenger import MessengerChannel
from bot.channels.meta import WINDOW_CLOSED
from bot.channels.webhooks import MEDIA_REPLY
from bot.config import MetaCredentials, PlatformCredentials
from bot.server import init_app
from bot.typedefs import outbox_key
from tests.bot.channels.standin import Answer, meta_signed, nothing_stored_or_sent

pytestmark = pytest.mark.integration

APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN = "app-s3cret", "verify-me-1", "EAAG-page-token"
PAGE_ID, PSID = "682498302938465", "6254337574623412"


def ok(call):
    return {"recipient_id": ((call.json or {}).get("recipient") or {}).get("id"), "message_id": "m_out"}


@pytest.fixture
async def bot(aiohttp_client, config, models, api):
    platforms = PlatformCredentials(meta=MetaCredentials(APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN, api_url=api.url))
    return await aiohttp_client(init_app(replace(config, platforms=platforms), models))


def notification(*events: dict) -> dict:
    """A page webhook body as Messenger sends it."""
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time() * 1000), "messaging": list(events)}]}


def event(psid: str = PSID, **kind) -> dict:
    return {"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": int(time.time() * 1000), **kind}


def text(mid: str, body: str, psid: str = PSID, **extra) -> dict:
    return event(psid, message={"mid": mid, "text": body, **extra})


def signed(body, secret: str = APP_SECRET) -> tuple[bytes, dict]:
    return meta_signed(body, secret)


async def post(bot, body, secret: str = APP_SECRET):
    raw, headers = signed(body, secret)
    return await bot.post("/webhooks/messenger", data=raw, headers=headers)


def sent(psid: str = PSID):
    return lambda c: c.path == "/me/messages" and c.json.get("recipient") == {"id": psid}


async def test_a_question_is_acknowledged_then_answered_through_the_send_api(bot, api):
    started = time.monotonic()
    resp = await post(bot, notification(text("m_1", "How long does shipping take?")))
    assert resp.status == 200 and time.monotonic() - started < 1.0  # acknowledged before the turn runs
    [call] = await api.wait_for(sent())
    assert call.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert call.json["messaging_type"] == "RESPONSE"
    assert "3 to 5 business days" in call.json["message"]["text"]
    assert "Source: How long does shipping take?" in call.json["message"]["text"]
    assert "/sources/shipping-times" in call.json["message"]["text"]
    record = await bot.app[outbox_key].record(f"messenger:{PSID}")
    assert record["channel"] == "messenger" and record["via"] == PAGE_ID


def _forged(body: bytes) -> dict:
    return {"X-Hub-Signature-256": "sha256=" + hashlib.sha256(body).hexdigest()}  # a hash, not an HMAC


def _wrong_secret(body: bytes) -> dict:
    return signed(body, "not-the-app-secret")[1]


def _altered(body: bytes) -> dict:
    return signed(body.replace(b"send me", b"sent me"))[1]  # signed before a byte changed


@pytest.mark.parametrize("headers", [lambda body: {}, _forged, _wrong_secret, _altered],
                         ids=["missing-header", "forged-signature", "wrong-app-secret", "altered-body"])
async def test_a_request_without_a_valid_signature_is_refused_and_nothing_is_stored(bot, api, config, headers):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, sent()):
        raw = json.dumps(notification(text("m_2", "send me your money"))).encode()
        resp = await bot.post("/webhooks/messenger", data=raw, headers={"Content-Type": "application/json",
                                                                        **headers(raw)})
        assert resp.status == 401 and "X-Hub-Signature-256" in (await resp.json())["error"]


async def test_malformed_json_is_400(bot, api):
    resp = await post(bot, b'{"object": "page", "entry": [{"messaging": ')
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    resp = await post(bot, [1, 2])
    assert resp.status == 400


async def test_the_subscription_handshake_echoes_the_challenge_only_for_the_verify_token(bot):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "CHALLENGE_ACCEPTED"}
    resp = await bot.get("/webhooks/messenger", params=query)
    assert resp.status == 200 and await resp.text() == "CHALLENGE_ACCEPTED"
    for wrong in ({**query, "hub.verify_token": VERIFY_TOKEN + "x"}, {**query, "hub.mode": "other"}, {}):
        resp = await bot.get("/webhooks/messenger", params=wrong)
        assert resp.status == 403


async def test_a_redelivered_message_and_postback_are_answered_once(bot, api):
    message = notification(text("m_4", "Do you accept PayPal?"))
    postback = notification(event("777", postback={"title": "Shipping times", "payload": "How long does shipping "
                                                                                       "take?"}))
    for _ in range(3):
        assert (await post(bot, message)).status == 200
        assert (await post(bot, postback)).status == 200  # no mid: sender and time identify it
    await api.wait_for(sent())
    await api.wait_for(sent("777"))
    await api.quiet()
    assert len(api.matching(sent())) == 1 and len(api.matching(sent("777"))) == 1
    transcript = await bot.app[outbox_key].after("messenger:777")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"] == ["Shipping times"]


@pytest.mark.parametrize("answer", [
    Answer(429, {"error": {"message": "Too many requests", "type": "OAuthException", "code": 32,
                           "fbtrace_id": "B1"}}, {"Retry-After": "1"}),
    Answer(400, {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.",
                           "type": "OAuthException", "code": 613, "fbtrace_id": "B2"}}),
], ids=["429-retry-after", "graph-code-613"])
async def test_a_rate_limited_send_is_retried_and_delivered_once(bot, api, answer):
    api.script("/me/messages", answer)
    await post(bot, notification(text("m_5", "Do you accept PayPal?")))
    calls = await api.wait_for(sent(), count=2)
    assert calls[0].json == calls[1].json and "PayPal" in calls[1].json["message"]["text"]
    await api.quiet()
    assert len(api.matching(sent())) == 2
    assert (await bot.app[outbox_key].failures(f"messenger:{PSID}")) == {}


async def test_outside_the_24_hour_window_nothing_is_sent_and_the_failure_is_logged_and_recorded(bot, api, caplog):
    old = event(message={"mid": "m_6", "text": "Do you accept PayPal?"})
    old["timestamp"] = int((time.time() - 25 * 3600) * 1000)  # delivered a day late (the bot was down)
    assert (await post(bot, notification(old))).status == 200
    conversation_id = f"messenger:{PSID}"
    for _ in range(100):
        failures = await bot.app[outbox_key].failures(conversation_id)
        if failures:
            break
        await asyncio.sleep(0.1)
    [failure] = failures.values()
    assert failure["reason"].startswith(WINDOW_CLOSED)
    assert api.matching(sent()) == []
    assert "not sent" in caplog.text and WINDOW_CLOSED in caplog.text


async def test_metas_outside_window_error_is_recorded_without_retrying(bot, api):
    api.script("/me/messages", Answer(400, {"error": {
        "message": "(#10) This message is sent outside of allowed window.", "type": "OAuthException",
        "code": 10, "error_subcode": 2018278, "fbtrace_id": "B3"}}))
    await post(bot, notification(text("m_7", "Do you accept PayPal?")))
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    [failure] = (await bot.app[outbox_key].failures(f"messenger:{PSID}")).values()
    assert WINDOW_CLOSED in failure["reason"] and "10/2018278" in failure["reason"]


async def test_the_greeting_has_quick_replies_and_a_tap_is_answered(bot, api):
    await post(bot, notification(text("m_10", "hello")))
    [greeting] = await api.wait_for(sent())
    quick_replies = greeting.json["message"]["quick_replies"]
    assert 1 <= len(quick_replies) <= 13
    assert all(q["content_type"] == "text" and len(q["title"]) <= 20 and len(q["payload"]) <= 1000
               for q in quick_replies)
    chosen = next(q for q in quick_replies if "ship" in q["title"].lower())
    tap = text("m_11", chosen["title"], quick_reply={"payload": chosen["payload"]})
    assert (await post(bot, notification(tap))).status == 200
    [_, answer] = await api.wait_for(sent(), count=2)
    assert "3 to 5 business days" in answer.json["message"]["text"]
    transcript = await bot.app[outbox_key].after(f"messenger:{PSID}")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"][-1] == chosen["title"]


async def test_echoes_deliveries_reads_and_other_objects_are_acknowledged_and_ignored(bot, api):
    echo = {"sender": {"id": PAGE_ID}, "recipient": {"id": PSID}, "timestamp": int(time.time() * 1000),
            "message": {"is_echo": True, "app_id": 1517776481860111, "mid": "m_echo", "text": "Hi!"}}
    delivery = event(delivery={"mids": ["m_echo"], "watermark": int(time.time() * 1000)})
    read = event(read={"watermark": int(time.time() * 1000)})
    reaction = event(reaction={"mid": "m_echo", "action": "react", "emoji": "👍", "reaction": "like"})
    instagram = {"object": "instagram", "entry": [{"id": "1", "messaging": [text("m_ig", "hello")]}]}
    for body in (notification(echo, delivery, read, reaction), instagram):
        assert (await post(bot, body)).status == 200
    await api.quiet()
    assert api.matching() == []


async def test_an_image_and_a_location_get_the_text_only_reply(bot, api):
    image = event(message={"mid": "m_30", "attachments": [{"type": "image", "payload": {
        "url": "https://scontent.xx.fbcdn.net/v/t1/photo.jpg"}}]})
    location = event(message={"mid": "m_31", "attachments": [{"type": "location", "title": "Shop", "payload": {
        "coordinates": {"lat": 51.5, "long": -0.12}}}]})
    for body in (image, location):
        await post(bot, notification(body))
    calls = await api.wait_for(sent(), count=2)
    assert all(c.json["message"]["text"] == MEDIA_REPLY["en"] for c in calls)
    transcript = await bot.app[outbox_key].after(f"messenger:{PSID}")
    shown = [e["message"]["text"] for e in transcript if e["role"] == "user"]
    assert shown == ["[image: https://scontent.xx.fbcdn.net/v/t1/photo.jpg]", "[location: 51.5, -0.12, Shop]"]


# -- rendering ----------------------------------------------------------------------

RECORD = {"id": f"messenger:{PSID}", "address": PSID, "via": PAGE_ID, "base_url": "https://bot.example"}
CARD = {"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD", "in_stock": True,
        "subtitle": "In stock", "url": "/#product-KT-102"}


def render(message: dict, record: dict = RECORD) -> list[dict]:
    return MessengerChannel.__new__(MessengerChannel).render(message, record)


def test_long_texts_are_split_at_2000_characters_with_quick_replies_on_the_last_part():
    long = " ".join(f"Sentence number {i} says something about shipping." for i in range(100))
    buttons = [{"title": "A title that is much too long", "payload": "/affirm"},
               {"title": "No", "payload": "x" * 1200}]
    payloads = render({"text": long, "buttons": buttons})
    assert len(payloads) == 3 and all(len(p["message"]["text"]) <= 2000 for p in payloads)
    assert all(p["recipient"] == {"id": PSID} and p["messaging_type"] == "RESPONSE" for p in payloads)
    assert "quick_replies" not in payloads[0]["message"]
    assert payloads[-1]["message"]["quick_replies"] == [
        {"content_type": "text", "title": "A title that is muc…", "payload": "/affirm"},
        {"content_type": "text", "title": "No", "payload": "No"}]  # a payload over 1,000 characters: the title


def test_more_than_13_buttons_are_numbered_options_in_the_text():
    [payload] = render({"text": "Pick one", "buttons": [{"title": f"Option {i}", "payload": str(i)}
                                                        for i in range(1, 15)]})
    assert "quick_replies" not in payload["message"]
    assert payload["message"]["text"].startswith("Pick one\n\nReply with a number:\n1. Option 1\n")
    assert payload["message"]["text"].endswith("\n14. Option 14")


def test_product_cards_are_a_generic_template_within_its_limits():
    cards = [{**CARD, "title": f"Enamelled cast-iron Dutch Oven, {i} litres, with a lid and two handles, "
                               f"made to last a lifetime", "image": "/img/kt-102.png"} for i in range(12)]
    cards[0]["image"] = "/widget/demo/images/KT-102.svg"
    payloads = render({"text": "These fit", "cards": cards, "buttons": [{"title": "More", "payload": "more"}]})
    assert [p["message"].get("text") for p in payloads] == ["These fit", None, None]
    first, second = (p["message"]["attachment"] for p in payloads[1:])
    assert first["type"] == "template" and first["payload"]["template_type"] == "generic"
    assert len(first["payload"]["elements"]) == 10 and len(second["payload"]["elements"]) == 2
    elements = first["payload"]["elements"] + second["payload"]["elements"]
    assert all(len(e["title"]) <= 80 and len(e["subtitle"]) <= 80 for e in elements)
    assert elements[0]["subtitle"] == "129.00 USD · In stock"
    assert "image_url" not in elements[0]  # an SVG Messenger cannot show
    assert elements[1]["image_url"] == "https://bot.example/img/kt-102.png"
    assert elements[1]["buttons"] == [{"type": "web_url", "url": "https://bot.example/#product-KT-102",
                                       "title": "View"}]
    assert payloads[-1]["message"]["quick_replies"][0]["payload"] == "more"  # quick replies on the last message


def test_an_image_is_an_image_attachment_with_an_absolute_url():
    [text_part, image] = render({"text": "Look", "image": "/img/photo.jpg"})
    assert text_part["message"] == {"text": "Look"}
    assert image["message"]["attachment"] == {"type": "image", "payload": {
        "url": "https://bot.example/img/photo.jpg", "is_reusable": True}}
    assert render({"image": "/img/photo.jpg"}, {**RECORD, "base_url": ""}) == []  # no absolute address: left out


async def test_a_page_token_when_set_is_the_one_messenger_sends_with(aiohttp_client, config, models, api):
    from bot.config import load_config

    env = {"SHOPKEEP_META_APP_SECRET": APP_SECRET, "SHOPKEEP_META_VERIFY_TOKEN": VERIFY_TOKEN,
           "SHOPKEEP_META_ACCESS_TOKEN": ACCESS_TOKEN, "SHOPKEEP_META_PAGE_TOKEN": "EAAPage",
           "SHOPKEEP_META_API_URL": api.url}
    platforms = load_config(env=env).platforms
    assert platforms.meta.page_token == "EAAPage" and "EAAPage" not in repr(platforms)
    bot = await aiohttp_client(init_app(replace(config, platforms=platforms), models))
    await post(bot, notification(text("m_page", "Do you accept PayPal?")))
    [call] = await api.wait_for(sent())
    assert call.headers["Authorization"] == "Bearer EAAPage"


def test_quick_replies_that_look_alike_once_cut_become_numbered_options():
    channel = MessengerChannel.__new__(MessengerChannel)
    buttons = [{"title": f"Track my order number {i}", "payload": f"/track{i}"} for i in (1, 2, 3)]
    [payload] = channel.render({"text": "Which one?", "buttons": buttons}, {"address": PSID})
    assert "quick_replies" not in payload["message"]
    assert "1. Track my order number 1" in payload["message"]["text"]
    assert channel.numbers_buttons(buttons) and not channel.numbers_buttons(buttons[:1])
