"""Twilio SMS and WhatsApp: genuine, forged and replayed messages against a
local stand-in for the Messages API (real Redis, real models, real HTTP both
ways). Requests are signed here with Twilio's documented algorithm, written
out on its own rather than borrowed from the adapter."""

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from bot.channels import twilio
from bot.channels.twilio import TwilioChannel
from bot.channels.webhooks import CHOICE, MEDIA_REPLY
from bot.config import PlatformCredentials, TwilioCredentials
from bot.server import init_app
from bot.typedefs import outbox_key
from tests.bot.channels.standin import Answer, nothing_stored_or_sent

pytestmark = pytest.mark.integration

AUTH_TOKEN, ACCOUNT_SID = "0123456789abcdef0123456789abcdef", "AC" + "1" * 32
SHOPPER, STORE = "+15550001111", "+15557654321"
WA_SHOPPER, WA_STORE = "whatsapp:+447700900123", "whatsapp:+14155238886"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio documents it: base64(HMAC-SHA1(token, url + sorted name+value pairs))."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def ok(call):
    return {"sid": "SM" + uuid.uuid4().hex, "account_sid": ACCOUNT_SID, "status": "queued",
            "to": call.form.get("To"), "from": call.form.get("From"), "body": call.form.get("Body"),
            "num_segments": "1", "error_code": None, "error_message": None}


async def start_bot(aiohttp_client, config, models, api, **server):
    platforms = PlatformCredentials(twilio=TwilioCredentials(AUTH_TOKEN, ACCOUNT_SID, api_url=api.url))
    config = replace(config, platforms=platforms, server=replace(config.server, **server))
    return await aiohttp_client(init_app(config, models))


@pytest.fixture
async def bot(aiohttp_client, config, models, api):
    return await start_bot(aiohttp_client, config, models, api)


def sms(sid: str, body: str | None = None, sender: str = SHOPPER, to: str = STORE, **extra) -> dict:
    """An incoming message's form, as Twilio posts it."""
    params = {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
              "To": to, "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
              "ApiVersion": "2010-04-01", **extra}
    if body is not None:
        params["Body"] = body
    return params


def message_sid(n: int) -> str:
    return f"SM{n:032x}"


async def post(bot, params: dict, url: str | None = None, token: str = AUTH_TOKEN, headers: dict | None = None,
               body: str | None = None):
    """POST the form to /webhooks/twilio, signed for `url` (the test server's own URL by default)."""
    url = url or str(bot.make_url("/webhooks/twilio"))
    headers = {"X-Twilio-Signature": sign(url, params, token)} if headers is None else headers
    return await bot.post("/webhooks/twilio", data=body if body is not None else urlencode(params),
                          headers={"Content-Type": "application/x-www-form-urlencoded", **headers})


def sent(to: str = SHOPPER):
    return lambda c: c.path == MESSAGES and c.form is not None and c.form.get("To") == to


async def test_a_text_is_acknowledged_with_empty_twiml_then_answered_through_the_messages_api(bot, api):
    started = time.monotonic()
    resp = await post(bot, sms(message_sid(1), "How long does shipping take?"))
    assert resp.status == 200 and time.monotonic() - started < 1.0  # acknowledged before the turn runs
    assert resp.content_type == "text/xml" and await resp.text() == EMPTY_TWIML
    [call] = await api.wait_for(sent())
    assert call.method == "POST" and call.path == MESSAGES
    assert call.form["To"] == SHOPPER and call.form["From"] == STORE  # the store's number answers
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert call.headers["Authorization"] == expected
    assert "3 to 5 business days" in call.form["Body"]
    assert "Source: How long does shipping take?" in call.form["Body"]
    assert "/sources/shipping-times" in call.form["Body"]  # an absolute link to the store's own text
    record = await bot.app[outbox_key].record(f"twilio:{SHOPPER}")
    assert record["channel"] == "twilio" and record["reach"] == "api" and record["via"] == STORE


def forged(bot, params):
    return {"X-Twilio-Signature": base64.b64encode(b"x" * 20).decode()}


def wrong_token(bot, params):
    return {"X-Twilio-Signature": sign(str(bot.make_url("/webhooks/twilio")), params, AUTH_TOKEN[::-1])}


def other_url(bot, params):
    return {"X-Twilio-Signature": sign("https://attacker.example/webhooks/twilio", params)}


def altered(bot, params):
    """Signed, then a parameter changed on the way."""
    signed = {"X-Twilio-Signature": sign(str(bot.make_url("/webhooks/twilio")), params)}
    params["Body"] = "send me your money"
    return signed


@pytest.mark.parametrize("headers", [lambda bot, params: {}, forged, wrong_token, other_url, altered],
                         ids=["missing-header", "forged-signature", "wrong-auth-token", "other-url", "altered-body"])
async def test_a_request_without_a_genuine_signature_is_refused_and_nothing_is_stored(bot, api, config, headers):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, sent()):
        params = sms(message_sid(2), "Do you accept PayPal?")
        resp = await post(bot, params, headers=headers(bot, params))
        assert resp.status == 401 and "X-Twilio-Signature" in (await resp.json())["error"]


async def test_a_genuine_signature_for_another_account_is_403_and_nothing_is_stored(bot, api, config):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, sent()):
        for account in ("AC" + "2" * 32, ""):
            params = sms(message_sid(3), "Do you accept PayPal?", AccountSid=account)
            resp = await post(bot, params)
            assert resp.status == 403 and "AccountSid" in (await resp.json())["error"]


async def test_a_malformed_body_is_400(bot, api):
    without_sid = {k: v for k, v in sms(message_sid(4), "hi").items() if k != "MessageSid"}
    without_from = {k: v for k, v in sms(message_sid(4), "hi").items() if k != "From"}
    bad_sid = sms("SM<script>", "hi")
    not_a_form = {"AccountSid": ACCOUNT_SID, '{"MessageSid": "SM1"}': ""}  # JSON where a form was expected
    for params in (without_sid, without_from, bad_sid, not_a_form):
        resp = await post(bot, params)
        assert resp.status == 400, params
    await api.quiet(0.5)
    assert api.matching(sent()) == []


async def test_a_redelivered_message_is_answered_once(bot, api):
    params = sms(message_sid(5), "Do you accept PayPal?")
    for _ in range(3):
        assert (await post(bot, params)).status == 200
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    transcript = await bot.app[outbox_key].after(f"twilio:{SHOPPER}")
    assert [e["role"] for e in transcript] == ["user", "bot"]


async def test_the_messages_api_answering_429_is_retried_after_its_retry_after(bot, api):
    api.script("/Messages.json", Answer(429, {"code": 20429, "message": "Too Many Requests",
                                              "more_info": "https://www.twilio.com/docs/errors/20429",
                                              "status": 429}, {"Retry-After": "1"}))
    await post(bot, sms(message_sid(6), "Do you accept PayPal?"))
    await api.wait_for(sent())
    first = time.monotonic()
    calls = await api.wait_for(sent(), count=2)
    assert time.monotonic() - first >= 0.8  # waited for Retry-After
    assert calls[0].form == calls[1].form and "PayPal" in calls[1].form["Body"]
    await api.quiet()
    assert len(api.matching(sent())) == 2  # delivered once, after the retry
    assert (await bot.app[outbox_key].failures(f"twilio:{SHOPPER}")) == {}


async def test_an_error_from_twilio_is_not_retried_and_is_recorded_with_its_code(bot, api, caplog):
    api.script("/Messages.json", Answer(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                              "more_info": "https://www.twilio.com/docs/errors/21610",
                                              "status": 400}))
    await post(bot, sms(message_sid(7), "Do you accept PayPal?"))
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    failures = await bot.app[outbox_key].failures(f"twilio:{SHOPPER}")
    assert "Twilio error 21610: Attempt to send to unsubscribed recipient" in next(iter(failures.values()))["reason"]
    assert "not sent to twilio" in caplog.text


async def test_buttons_are_numbered_options_and_a_number_runs_that_option(bot, api):
    await post(bot, sms(message_sid(10), "hello"))
    [greeting] = await api.wait_for(sent())
    body = greeting.form["Body"]
    assert "Reply with a number:\n1. " in body and "\n2. " in body
    first = body.split("\n1. ", 1)[1].split("\n", 1)[0]
    await post(bot, sms(message_sid(11), " 1. "))
    await api.wait_for(sent(), count=2)
    transcript = await bot.app[outbox_key].after(f"twilio:{SHOPPER}")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"] == ["hello", first]
    assert transcript[-1]["role"] == "bot" and transcript[-1]["message"] != transcript[1]["message"]


async def test_a_number_without_options_is_read_as_it_is(bot, api):
    await bot.app[outbox_key].open(f"twilio:{SHOPPER}", "twilio", SHOPPER, via=STORE)
    await bot.app[outbox_key].deliver(f"twilio:{SHOPPER}", [{"text": "How many would you like?"}], role="agent")
    await api.wait_for(sent())
    await post(bot, sms(message_sid(12), "2"))
    await api.quiet(1.0)
    transcript = await bot.app[outbox_key].after(f"twilio:{SHOPPER}")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"] == ["2"]


async def test_a_whatsapp_message_is_answered_from_the_whatsapp_sender(bot, api):
    await post(bot, sms(message_sid(20), "Do you accept PayPal?", sender=WA_SHOPPER, to=WA_STORE,
                        ProfileName="Ana", WaId="447700900123"))
    [call] = await api.wait_for(sent(WA_SHOPPER))
    assert call.form["From"] == WA_STORE and "PayPal" in call.form["Body"]
    record = await bot.app[outbox_key].record(f"twilio:{WA_SHOPPER}")
    assert record["name"] == "Ana" and record["via"] == WA_STORE


async def test_whatsapp_outside_the_24_hour_window_is_not_sent_and_is_logged_and_recorded(bot, api, caplog):
    conversation_id = f"twilio:{WA_SHOPPER}"
    outbox = bot.app[outbox_key]
    await outbox.open(conversation_id, "twilio", WA_SHOPPER, via=WA_STORE,
                      last_inbound_at=str(time.time() - 25 * 3600))
    await outbox.deliver(conversation_id, [{"text": "Your order has shipped."}], role="agent")
    await api.quiet(1.0)
    assert api.matching(sent(WA_SHOPPER)) == []
    [failure] = (await outbox.failures(conversation_id)).values()
    assert failure["reason"].startswith("outside the 24-hour customer-service window")
    assert "outside the 24-hour customer-service window" in caplog.text
    # an SMS conversation as old is still answered: the window is WhatsApp's
    await outbox.open(f"twilio:{SHOPPER}", "twilio", SHOPPER, via=STORE, last_inbound_at=str(time.time() - 25 * 3600))
    await outbox.deliver(f"twilio:{SHOPPER}", [{"text": "Your order has shipped."}], role="agent")
    await api.wait_for(sent())


async def test_twilios_63016_is_recorded_as_the_closed_window(bot, api):
    api.script("/Messages.json", Answer(400, {"code": 63016, "message": "Failed to send freeform message because "
                                              "you are outside the allowed window.", "status": 400,
                                              "more_info": "https://www.twilio.com/docs/errors/63016"}))
    await post(bot, sms(message_sid(21), "Do you accept PayPal?", sender=WA_SHOPPER, to=WA_STORE))
    await api.wait_for(sent(WA_SHOPPER))
    for _ in range(50):
        if failures := await bot.app[outbox_key].failures(f"twilio:{WA_SHOPPER}"):
            break
        await asyncio.sleep(0.1)
    assert "outside the 24-hour customer-service window" in next(iter(failures.values()))["reason"]


async def test_whatsapp_images_locations_and_quick_replies_are_normalised(bot, api):
    image = sms(message_sid(30), "", sender=WA_SHOPPER, to=WA_STORE, NumMedia="1", MediaContentType0="image/jpeg",
                MediaUrl0=f"https://api.twilio.com{MESSAGES[:-5]}/MM1/Media/ME1")
    location = sms(message_sid(31), "", sender=WA_SHOPPER, to=WA_STORE, Latitude="51.5", Longitude="-0.12",
                   Label="Shop")
    for params in (image, location):
        assert (await post(bot, params)).status == 200
    calls = await api.wait_for(sent(WA_SHOPPER), count=2)
    assert all(c.form["Body"] == MEDIA_REPLY["en"] for c in calls)
    button = sms(message_sid(32), "Track my order", sender=WA_SHOPPER, to=WA_STORE, ButtonText="Track my order",
                 ButtonPayload="/track_order")
    assert (await post(bot, button)).status == 200
    await api.wait_for(sent(WA_SHOPPER), count=3)
    transcript = await bot.app[outbox_key].after(f"twilio:{WA_SHOPPER}")
    shown = [e["message"]["text"] for e in transcript if e["role"] == "user"]
    assert shown[0].endswith("/Messages/MM1/Media/ME1]")  # the picture's link, for the person
    assert shown[1:] == ["[location: 51.5, -0.12, Shop]", "Track my order"]


async def test_a_status_callback_is_acknowledged_and_ignored(bot, api):
    params = {"MessageSid": message_sid(40), "SmsSid": message_sid(40), "AccountSid": ACCOUNT_SID,
              "From": STORE, "To": SHOPPER, "MessageStatus": "delivered", "SmsStatus": "delivered"}
    resp = await post(bot, params)
    assert resp.status == 200 and await resp.text() == EMPTY_TWIML
    await api.quiet(1.0)
    assert api.calls == []


async def test_behind_a_proxy_the_signature_is_over_the_public_url(aiohttp_client, config, models, api):
    bot = await start_bot(aiohttp_client, config, models, api, public_url="https://bot.example")
    local = sms(message_sid(50), "Do you accept PayPal?")
    assert (await post(bot, local)).status == 401  # signed for the local address Twilio never calls
    public = sms(message_sid(51), "Do you accept PayPal?")
    assert (await post(bot, public, url="https://bot.example/webhooks/twilio")).status == 200
    [call] = await api.wait_for(sent())
    assert "PayPal" in call.form["Body"]
    # Twilio's libraries also accept the URL with the scheme's default port written out
    again = sms(message_sid(52), "Do you accept PayPal?")
    assert (await post(bot, again, url="https://bot.example:443/webhooks/twilio")).status == 200
    await api.wait_for(sent(), count=2)


async def test_a_long_text_is_split_at_1600_characters(bot, api):
    await bot.app[outbox_key].open(f"twilio:{SHOPPER}", "twilio", SHOPPER, via=STORE)
    text = " ".join(f"Sentence number {i} says something about shipping." for i in range(80))
    await bot.app[outbox_key].deliver(f"twilio:{SHOPPER}", [{"text": text}], role="agent")
    calls = await api.wait_for(sent(), count=3)
    assert all(len(c.form["Body"]) <= 1600 for c in calls)
    assert " ".join(c.form["Body"] for c in calls) == text


def test_the_signature_matches_twilios_documented_example():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio.signature("12345", url, list(params.items())) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_a_rendered_reply_fits_twilios_limits():
    channel = TwilioChannel.__new__(TwilioChannel)
    message = {"text": "y " * 2000, "buttons": [{"title": "Yes", "payload": "/affirm"},
                                                 {"title": "Tell me more", "payload": "/more"}],
               "sources": [{"id": "s", "title": "Shipping", "url": "/sources/s"}],
               "cards": [{"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD",
                          "in_stock": True, "subtitle": "In stock", "image": "/widget/demo/images/KT-102.svg",
                          "url": "/#product-KT-102"},
                         {"sku": "KT-103", "title": "Skillet", "image": "https://cdn.example/skillet.jpg"}]}
    record = {"address": SHOPPER, "via": STORE, "base_url": "https://bot.example"}
    payloads = channel.render(message, record)
    texts, cards = payloads[:-2], payloads[-2:]
    assert len(texts) == 3 and all(len(p["Body"]) <= 1600 and p["To"] == SHOPPER and p["From"] == STORE
                                   for p in payloads)
    assert texts[-1]["Body"].endswith("Source: Shipping (https://bot.example/sources/s)\n\n"
                                      "Reply with a number:\n1. Yes\n2. Tell me more")
    assert cards[0]["Body"] == "Dutch Oven\n129.00 USD · In stock\nhttps://bot.example/#product-KT-102"
    assert "MediaUrl" not in cards[0]  # SVG: not attached
    assert cards[1]["MediaUrl"] == "https://cdn.example/skillet.jpg"
    [picture] = channel.render({"image": "https://cdn.example/a.png"}, record)
    assert picture == {"To": SHOPPER, "From": STORE, "MediaUrl": "https://cdn.example/a.png"}


@pytest.mark.parametrize("text,choice", [("2", "2"), (" 2. ", "2"), ("2)", "2"), ("12", "12"), ("2 pans", None),
                                         ("", None), ("1.5", None)])
def test_a_reply_that_is_only_a_number_is_a_choice(text, choice):
    match = CHOICE.match(text)
    assert (match.group(1) if match else None) == choice


async def test_stop_and_help_are_left_to_twilio_and_yes_still_reaches_the_bot(bot, api):
    for n, keyword in enumerate(["STOP", " stop ", "Stop.", "Unsubscribe", "HELP", "start"]):
        assert (await post(bot, sms(message_sid(60 + n), keyword))).status == 200
    await api.quiet(1.5)
    assert api.matching(sent()) == []  # Twilio confirms these itself, and refuses sends to an opted-out number
    await post(bot, sms(message_sid(70), "yes"))
    await api.wait_for(sent())
