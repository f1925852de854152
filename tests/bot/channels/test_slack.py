"""Slack: genuine, forged, stale and replayed requests against a local
stand-in for the Web API (real Redis, real models, real HTTP both ways)."""

import asyncio
import json
import time
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from bot.channels.slack import SlackChannel, plain_text, signature
from bot.config import PlatformCredentials, SlackCredentials
from bot.server import init_app
from bot.typedefs import outbox_key
from tests.bot.channels.standin import Answer, nothing_stored_or_sent

pytestmark = pytest.mark.integration

SIGNING_SECRET, BOT_TOKEN = "8f742231b10e8888abcd99yyyzzz85a5", "xoxb-1-test-token"
TEAM, BOT_USER, SHOPPER, DM = "T0STORE", "U0BOT", "U0ANA", "D0424"


def ok(call):
    return {"ok": True, "channel": (call.json or {}).get("channel", ""), "ts": f"{time.time():.6f}"}


@pytest.fixture
async def bot(aiohttp_client, config, models, api):
    platforms = PlatformCredentials(slack=SlackCredentials(SIGNING_SECRET, BOT_TOKEN, api_url=api.url))
    return await aiohttp_client(init_app(replace(config, platforms=platforms), models))


def envelope(event_id: str, text: str, channel: str = DM, user: str = SHOPPER, **event) -> dict:
    """An Events API delivery: a shopper's direct message unless `event` says otherwise."""
    return {"token": "unused", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
            "event": {"type": "message", "channel_type": "im", "channel": channel, "user": user, "text": text,
                      "ts": f"{time.time():.6f}", **event}}


def signed(raw: bytes, secret: str = SIGNING_SECRET, timestamp: float | None = None,
           content_type: str = "application/json") -> dict:
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, raw),
            "Content-Type": content_type}


async def post(bot, body: dict | bytes, headers: dict | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await bot.post("/webhooks/slack", data=raw, headers=signed(raw) if headers is None else headers)


def form(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def sent(channel: str = DM):
    return lambda c: c.path.endswith("/chat.postMessage") and (c.json or {}).get("channel") == channel


def section_texts(call) -> str:
    return "\n".join(b["text"]["text"] for b in call.json["blocks"] if b["type"] == "section")


async def failures(bot, conversation_id: str) -> dict:
    for _ in range(100):
        if found := await bot.app[outbox_key].failures(conversation_id):
            return found
        await asyncio.sleep(0.1)
    return {}


async def test_a_direct_message_is_acknowledged_then_answered_through_chat_post_message(bot, api):
    started = time.monotonic()
    resp = await post(bot, envelope("Ev001", "How long does shipping take?"))
    assert resp.status == 200 and await resp.read() == b""
    assert time.monotonic() - started < 1.0  # acknowledged before the turn runs
    [call] = await api.wait_for(sent())
    assert call.path == "/chat.postMessage" and call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert "3 to 5 business days" in section_texts(call) and "3 to 5 business days" in call.json["text"]
    [context] = [b for b in call.json["blocks"] if b["type"] == "context"]
    source = context["elements"][0]["text"]
    assert source.startswith("Source: <") and "/sources/shipping-times|How long does shipping take?>" in source
    assert "thread_ts" not in call.json
    record = await bot.app[outbox_key].record(f"slack:{DM}")
    assert record["channel"] == "slack" and record["reach"] == "api" and record["via"] == TEAM


async def test_a_mention_in_a_channel_is_answered_in_its_thread(bot, api):
    body = envelope("Ev002", f"<@{BOT_USER}> how long does shipping take?", channel="C0SALES",
                    type="app_mention", ts="1712345678.000100")
    del body["event"]["channel_type"]
    assert (await post(bot, body)).status == 200
    [call] = await api.wait_for(sent("C0SALES"))
    assert call.json["thread_ts"] == "1712345678.000100" and "3 to 5 business days" in section_texts(call)
    transcript = await bot.app[outbox_key].after("slack:C0SALES/1712345678.000100")
    assert transcript[0]["message"]["text"] == "how long does shipping take?"  # the bot's mention dropped


async def test_url_verification_is_echoed_when_signed_and_refused_when_not(bot, api):
    body = {"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}
    resp = await post(bot, body)
    assert resp.status == 200 and await resp.json() == {"challenge": body["challenge"]}
    resp = await post(bot, body, headers={"Content-Type": "application/json"})
    assert resp.status == 401 and "challenge" not in await resp.text()


def _refused(case: str, raw: bytes) -> dict:
    now = time.time()
    if case == "forged-signature":
        return {**signed(raw), "X-Slack-Signature": "v0=" + "0" * 64}
    if case == "wrong-secret":
        return signed(raw, secret="not-the-signing-secret")
    if case == "missing-signature":
        return {k: v for k, v in signed(raw).items() if k != "X-Slack-Signature"}
    if case == "missing-timestamp":
        return {k: v for k, v in signed(raw).items() if k != "X-Slack-Request-Timestamp"}
    if case == "body-altered":
        return signed(raw.replace(b"send me your money", b"what is the weather"))
    if case == "timestamp-not-a-number":
        return {**signed(raw), "X-Slack-Request-Timestamp": "soon"}
    if case == "stale":  # a genuine signature, for a timestamp 6 minutes old: a replay
        return signed(raw, timestamp=now - 360)
    if case == "from-the-future":
        return signed(raw, timestamp=now + 360)
    raise ValueError(case)


@pytest.mark.parametrize("case, status", [
    ("forged-signature", 401), ("wrong-secret", 401), ("missing-signature", 401), ("missing-timestamp", 401),
    ("body-altered", 401), ("timestamp-not-a-number", 401), ("stale", 403), ("from-the-future", 403)])
async def test_a_request_without_a_valid_signature_is_refused_and_nothing_is_stored(bot, api, config, case, status):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, sent()):
        raw = json.dumps(envelope("Ev003", "send me your money")).encode()
        resp = await post(bot, raw, headers=_refused(case, raw))
        assert resp.status == status and "X-Slack" in (await resp.json())["error"]


async def test_malformed_json_is_400(bot, api):
    resp = await post(bot, b'{"type": "event_callback", "event_id": ')
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    assert (await post(bot, {"type": "event_callback", "event": {}})).status == 400
    raw = b"payload=%7Bnot-json"
    assert (await post(bot, raw, signed(raw, content_type="application/x-www-form-urlencoded"))).status == 400


async def test_a_redelivered_event_and_slacks_retries_are_answered_once(bot, api):
    body = envelope("Ev004", "Do you accept PayPal?")
    assert (await post(bot, body)).status == 200
    raw = json.dumps(body).encode()
    for retry in ("1", "2"):  # Slack signs each retry afresh and says which it is
        headers = {**signed(raw), "X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        assert (await post(bot, raw, headers)).status == 200
    await api.wait_for(sent())
    await api.quiet()
    assert len(api.matching(sent())) == 1
    transcript = await bot.app[outbox_key].after(f"slack:{DM}")
    assert [e["role"] for e in transcript] == ["user", "bot"]


async def test_bot_messages_edits_and_unmentioned_channel_messages_are_acknowledged_and_ignored(bot, api):
    own = envelope("Ev010", "Standard shipping takes 3 to 5 days.", bot_id="B0BOT", subtype="bot_message")
    own_user = envelope("Ev011", "Standard shipping takes 3 to 5 days.", user=BOT_USER)
    other_bot = envelope("Ev012", "Deploy finished", bot_id="B0OTHER")
    edited = envelope("Ev013", "", subtype="message_changed", message={"text": "what about returns?"})
    channel = envelope("Ev014", "how long does shipping take?", channel="C0SALES", channel_type="channel")
    for body in (own, own_user, other_bot, edited, channel, {**envelope("Ev015", ""), "type": "app_rate_limited"}):
        assert (await post(bot, body)).status == 200
    await api.quiet()
    assert api.matching(lambda c: c.path.endswith("/chat.postMessage")) == []


async def test_chat_post_message_answering_429_is_retried_after_its_retry_after(bot, api):
    api.script("/chat.postMessage", Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    await post(bot, envelope("Ev020", "Do you accept PayPal?"))
    calls = await api.wait_for(sent(), count=2)
    assert calls[0].json == calls[1].json and "PayPal" in section_texts(calls[1])
    assert (await bot.app[outbox_key].failures(f"slack:{DM}")) == {}


async def test_an_ok_false_ratelimited_answer_is_retried(bot, api):
    api.script("/chat.postMessage", Answer(200, {"ok": False, "error": "ratelimited"}))
    await post(bot, envelope("Ev021", "Do you accept PayPal?"))
    calls = await api.wait_for(sent(), count=2)
    assert calls[0].json == calls[1].json
    await api.quiet()
    assert len(api.matching(sent())) == 2
    assert (await bot.app[outbox_key].failures(f"slack:{DM}")) == {}


async def test_channel_not_found_is_not_retried_and_is_recorded(bot, api, caplog):
    api.script("/chat.postMessage", Answer(200, {"ok": False, "error": "channel_not_found"}))
    await post(bot, envelope("Ev022", "Do you accept PayPal?"))
    await api.wait_for(sent())
    [failure] = (await failures(bot, f"slack:{DM}")).values()
    assert "channel_not_found" in failure["reason"]
    await api.quiet()
    assert len(api.matching(sent())) == 1
    assert "not sent to slack" in caplog.text


async def test_buttons_are_blocks_and_a_press_is_handled_as_its_payload(bot, api):
    await post(bot, envelope("Ev030", "hello"))
    [greeting] = await api.wait_for(sent())
    buttons = [e for b in greeting.json["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons and all(b["type"] == "button" and b["value"] for b in buttons)
    assert len({b["action_id"] for b in buttons}) == len(buttons)
    button = next(b for b in buttons if "ship" in b["text"]["text"].lower() or "order" in b["text"]["text"].lower())
    press = {"type": "block_actions", "user": {"id": SHOPPER, "name": "ana"}, "team": {"id": TEAM},
             "api_app_id": "A0APP", "trigger_id": "1.2.3",
             "container": {"type": "message", "message_ts": "1712345679.000200", "channel_id": DM},
             "channel": {"id": DM, "name": "directmessage"},
             "message": {"type": "message", "bot_id": "B0BOT", "ts": "1712345679.000200",
                         "blocks": greeting.json["blocks"]},
             "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "b1",
                          "text": button["text"], "value": button["value"], "action_ts": f"{time.time():.6f}"}]}
    raw = form(press)
    for _ in range(2):  # a press delivered twice is answered once
        resp = await post(bot, raw, signed(raw, content_type="application/x-www-form-urlencoded"))
        assert resp.status == 200 and await resp.read() == b""
    await api.wait_for(sent(), count=2)
    await api.quiet()
    assert len(api.matching(sent())) == 2
    transcript = await bot.app[outbox_key].after(f"slack:{DM}")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"] == ["hello", button["text"]["text"]]


async def test_a_file_without_text_gets_the_text_only_reply(bot, api):
    body = envelope("Ev040", "", subtype="file_share",
                    files=[{"id": "F1", "mimetype": "image/png", "url_private": "https://files.slack.com/a.png"}])
    await post(bot, body)
    [call] = await api.wait_for(sent())
    assert "I can only read text" in call.json["text"]
    transcript = await bot.app[outbox_key].after(f"slack:{DM}")
    assert transcript[0]["message"]["text"] == "[image: https://files.slack.com/a.png]"


def test_slack_markup_becomes_plain_text():
    text = (f"<@{BOT_USER}> is <http://example.com/a?b=1&amp;c=2|example.com> open? ask <@U9|sam> in "
            "<#C1|sales> &lt;now&gt; &amp;amp; <!here> <mailto:a@b.example|a@b.example>")
    assert plain_text(text, frozenset({BOT_USER})) == ("is example.com open? ask @sam in #sales <now> &amp; @here "
                                                       "a@b.example")


def test_a_rendered_reply_fits_slacks_limits_and_escapes_its_text():
    channel = SlackChannel.__new__(SlackChannel)
    text = " ".join(f"Sentence {i}: fish & chips <b> cost > 5." for i in range(200))
    buttons = [{"title": f"Option {i} " + "x" * 80, "payload": f"/choose{{\"n\": {i}}}"} for i in range(30)]
    buttons[0]["payload"] = "/inform" + "y" * 2100
    message = {"text": text, "buttons": buttons, "sources": [{"id": "s", "title": "Returns & refunds", "url": "/r"}],
               "cards": [{"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD",
                          "in_stock": True, "subtitle": "In stock", "image": "/widget/demo/images/KT-102.svg",
                          "url": "/#product-KT-102"},
                         {"sku": "MG-1", "title": "Mug <large>", "price": "12.00", "currency": "USD",
                          "image": "https://cdn.example/mug.png?w=200", "url": "https://shop.example/mug"}]}
    payloads = channel.render(message, {"address": "C0SALES/1712345678.000100", "base_url": "https://bot.example"})
    assert len(payloads) > 1 and all(p["channel"] == "C0SALES" and p["thread_ts"] == "1712345678.000100"
                                     for p in payloads)
    sections = [b["text"]["text"] for p in payloads for b in p["blocks"] if b["type"] == "section"][:len(payloads)]
    assert all(len(s) <= 3000 for s in sections) and all(len(p["blocks"]) <= 50 for p in payloads)
    assert "fish &amp; chips &lt;b&gt; cost &gt; 5." in sections[0] and "<b>" not in "".join(sections)
    assert payloads[0]["text"] == sections[0]
    last = payloads[-1]["blocks"]
    source = "Source: <https://bot.example/r|Returns &amp; refunds>"
    assert last[1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": source}]}
    oven, mug = [b for b in last if b["type"] == "section"][1:]
    assert oven["text"]["text"] == "*Dutch Oven*\n129.00 USD · In stock\n<https://bot.example/#product-KT-102|View>"
    assert "accessory" not in oven  # an SVG picture Slack would not show
    assert mug["text"]["text"].startswith("*Mug &lt;large&gt;*")
    assert mug["accessory"] == {"type": "image", "image_url": "https://cdn.example/mug.png?w=200",
                                "alt_text": "Mug <large>"}
    actions = [b for b in last if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    elements = [e for a in actions for e in a["elements"]]
    assert all(len(e["text"]["text"]) <= 75 and len(e["value"]) <= 2000 for e in elements)
    assert elements[0]["value"] == buttons[0]["title"] and elements[1]["value"] == '/choose{"n": 1}'
    assert len({e["action_id"] for e in elements}) == 30
