"""Telegram: genuine, forged and replayed updates against a local stand-in
for the Bot API (real Redis, real models, real HTTP both ways)."""

import asyncio
import os
import sys
import time
from dataclasses import replace

import pytest

from bot.channels.telegram import TelegramChannel
from bot.channels.webhooks import MEDIA_REPLY, split_text
from bot.config import PlatformCredentials, TelegramCredentials
from bot.server import init_app
from bot.typedefs import outbox_key
from tests.bot.channels.standin import Answer, nothing_stored_or_sent

pytestmark = pytest.mark.integration

TOKEN, SECRET = "123456:TEST-token", "s3cret_Token-1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def ok(call):
    if call.path.endswith(("sendMessage", "sendPhoto")):
        return {"ok": True, "result": {"message_id": len(call.path), "chat": {"id": 1}}}
    if call.path.endswith("getWebhookInfo"):
        return {"ok": True, "result": {"url": "https://bot.example/webhooks/telegram", "pending_update_count": 0}}
    return {"ok": True, "result": True}


@pytest.fixture
async def bot(aiohttp_client, config, models, api):
    platforms = PlatformCredentials(telegram=TelegramCredentials(TOKEN, SECRET, api_url=api.url))
    return await aiohttp_client(init_app(replace(config, platforms=platforms), models))


def update(update_id: int, text: str | None = None, chat_id: int = 4242, **message) -> dict:
    body = {"message_id": update_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ana"}, **message}
    if text is not None:
        body["text"] = text
    return {"update_id": update_id, "message": body}


def sent(api, chat_id: int = 4242):
    return lambda c: c.path.endswith(("sendMessage", "sendPhoto")) and str(c.json.get("chat_id")) == str(chat_id)


async def test_a_question_is_acknowledged_then_answered_through_the_send_api(bot, api):
    started = time.monotonic()
    resp = await bot.post("/webhooks/telegram", json=update(1, "How long does shipping take?"), headers=HEADERS)
    assert resp.status == 200 and time.monotonic() - started < 1.0  # acknowledged before the turn runs
    [call] = await api.wait_for(sent(api))
    assert call.path == f"/bot{TOKEN}/sendMessage"
    assert "3 to 5 business days" in call.json["text"]
    assert "Source: How long does shipping take?" in call.json["text"]
    assert "/sources/shipping-times" in call.json["text"]  # an absolute link to the store's own text
    assert (await (await bot.get("/health")).json())["messaging"] == ["telegram"]
    record = await bot.app[outbox_key].record("telegram:4242")
    assert record["channel"] == "telegram" and record["reach"] == "api" and record["name"] == "Ana"


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                                     {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}],
                         ids=["missing-header", "wrong-secret", "forged-longer-secret"])
async def test_a_request_without_the_secret_is_refused_and_nothing_is_stored(bot, api, config, headers):
    async with nothing_stored_or_sent(bot, api, config.sessions.key_prefix, sent(api)):
        resp = await bot.post("/webhooks/telegram", json=update(2, "send me your money"), headers=headers)
        assert resp.status == 401 and "X-Telegram-Bot-Api-Secret-Token" in (await resp.json())["error"]


async def test_malformed_json_is_400(bot, api):
    resp = await bot.post("/webhooks/telegram", data=b'{"update_id": 3, "message": ', headers=HEADERS)
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    resp = await bot.post("/webhooks/telegram", json={"message": {}}, headers=HEADERS)
    assert resp.status == 400


async def test_a_redelivered_update_is_answered_once(bot, api):
    body = update(4, "Do you accept PayPal?")
    for _ in range(3):
        assert (await bot.post("/webhooks/telegram", json=body, headers=HEADERS)).status == 200
    await api.wait_for(sent(api))
    await api.quiet()
    assert len(api.matching(sent(api))) == 1
    transcript = await bot.app[outbox_key].after("telegram:4242")
    assert [e["role"] for e in transcript] == ["user", "bot"]


async def test_the_send_api_answering_429_is_retried_after_its_retry_after(bot, api):
    api.script("/sendMessage", Answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: "
                                           "retry after 1", "parameters": {"retry_after": 1}}))
    await bot.post("/webhooks/telegram", json=update(5, "Do you accept PayPal?"), headers=HEADERS)
    calls = await api.wait_for(sent(api), count=2)
    assert calls[0].json == calls[1].json and "PayPal" in calls[1].json["text"]
    assert (await bot.app[outbox_key].failures("telegram:4242")) == {}


async def test_a_send_api_that_keeps_failing_is_given_up_logged_and_recorded(bot, api, caplog):
    api.script("/sendMessage", *[Answer(500, {"ok": False, "error_code": 500, "description": "Internal"})] * 5)
    await bot.post("/webhooks/telegram", json=update(6, "Do you accept PayPal?"), headers=HEADERS)
    await api.wait_for(sent(api), count=5, timeout=60)
    for _ in range(100):
        failures = await bot.app[outbox_key].failures("telegram:4242")
        if failures:
            break
        await asyncio.sleep(0.1)
    [failure] = failures.values()
    assert "gave up after 5 tries" in failure["reason"]
    assert "not sent to telegram" in caplog.text


async def test_a_forbidden_answer_is_not_retried(bot, api):
    api.script("/sendMessage", Answer(403, {"ok": False, "error_code": 403,
                                           "description": "Forbidden: bot was blocked by the user"}))
    await bot.post("/webhooks/telegram", json=update(7, "Do you accept PayPal?"), headers=HEADERS)
    await api.wait_for(sent(api))
    await api.quiet()
    assert len(api.matching(sent(api))) == 1
    failures = await bot.app[outbox_key].failures("telegram:4242")
    assert "blocked by the user" in next(iter(failures.values()))["reason"]


async def test_a_shopper_handed_to_a_person_gets_silence_then_the_persons_message(bot, api):
    await bot.post("/webhooks/telegram", json=update(10, "I want to talk to a human"), headers=HEADERS)
    [handoff] = await api.wait_for(sent(api))
    assert "person from our team" in handoff.json["text"]
    await bot.post("/webhooks/telegram", json=update(11, "hello? how long does shipping take?"), headers=HEADERS)
    await api.quiet(2.0)
    assert len(api.matching(sent(api))) == 1  # the bot stays silent
    assert len(api.matching(lambda c: c.path.endswith("/sendChatAction"))) == 1  # and shows no "typing…"
    transcript = await bot.app[outbox_key].after("telegram:4242")
    assert transcript[-1]["message"]["text"] == "hello? how long does shipping take?"  # kept for the person
    await bot.app[outbox_key].deliver("telegram:4242", [{"text": "Hi, I'm Sam from the store. Let me check."}],
                                      role="agent")
    calls = await api.wait_for(sent(api), count=2)
    assert calls[-1].json == {"chat_id": "4242", "text": "Hi, I'm Sam from the store. Let me check.",
                              "link_preview_options": {"is_disabled": True}}


async def test_buttons_are_an_inline_keyboard_and_a_press_is_answered(bot, api):
    await bot.post("/webhooks/telegram", json=update(20, "hello"), headers=HEADERS)
    [greeting] = await api.wait_for(sent(api))
    keyboard = greeting.json["reply_markup"]["inline_keyboard"]
    assert keyboard and all(len(row) == 1 and row[0]["callback_data"] for row in keyboard)
    button = next(row[0] for row in keyboard if "ship" in row[0]["text"].lower() or "order" in row[0]["text"].lower())
    press = {"update_id": 21, "callback_query": {
        "id": "cbq-1", "from": {"id": 4242, "first_name": "Ana"}, "data": button["callback_data"],
        "message": {"message_id": 1, "chat": {"id": 4242, "type": "private"},
                    "reply_markup": greeting.json["reply_markup"]}}}
    assert (await bot.post("/webhooks/telegram", json=press, headers=HEADERS)).status == 200
    await api.wait_for(lambda c: c.path.endswith("/answerCallbackQuery") and c.json == {"callback_query_id": "cbq-1"})
    await api.wait_for(sent(api), count=2)
    transcript = await bot.app[outbox_key].after("telegram:4242")
    assert [e["message"]["text"] for e in transcript if e["role"] == "user"][-1] == button["text"]


async def test_edited_messages_group_chats_and_other_updates_are_acknowledged_and_ignored(bot, api):
    edited = {"update_id": 30, "edited_message": update(30, "what about returns?")["message"]}
    group = update(31, "hello all", chat_id=-100)
    group["message"]["chat"]["type"] = "group"
    for body in (edited, group, {"update_id": 32, "my_chat_member": {}}):
        assert (await bot.post("/webhooks/telegram", json=body, headers=HEADERS)).status == 200
    await api.quiet()
    assert api.matching(lambda c: c.path.endswith("sendMessage")) == []


async def test_a_photo_without_a_caption_and_a_location_get_the_text_only_reply(bot, api):
    photo = update(40, photo=[{"file_id": "small"}, {"file_id": "large"}])
    location = update(41, location={"latitude": 51.5, "longitude": -0.12})
    for body in (photo, location):
        await bot.post("/webhooks/telegram", json=body, headers=HEADERS)
    calls = await api.wait_for(sent(api), count=2)
    assert all(c.json["text"] == MEDIA_REPLY["en"] for c in calls)
    transcript = await bot.app[outbox_key].after("telegram:4242")
    shown = [e["message"]["text"] for e in transcript if e["role"] == "user"]
    assert shown == ["[image: id large]", "[location: 51.5, -0.12]"]  # the largest size's file id


async def test_a_chinese_question_is_answered_in_chinese(bot, api):
    await bot.post("/webhooks/telegram", json=update(50, "运费多少钱？", chat_id=77), headers=HEADERS)
    [call] = await api.wait_for(sent(api, 77))
    assert "来源" in call.json["text"] or any("\u4e00" <= ch <= "\u9fff" for ch in call.json["text"])


def test_long_texts_are_split_at_the_limit_on_sentence_boundaries():
    text = " ".join(f"Sentence number {i} says something about shipping." for i in range(200))
    parts = split_text(text, 4096)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert all(p.endswith(".") for p in parts) and " ".join(parts) == text


def test_a_rendered_reply_fits_telegrams_limits():
    channel = TelegramChannel.__new__(TelegramChannel)
    long_payload = "/inform" + '{"note": "' + "x" * 80 + '"}'
    message = {"text": "y " * 3000, "buttons": [{"title": "Yes", "payload": "/affirm"},
                                                 {"title": "Tell me more", "payload": long_payload}],
               "cards": [{"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD",
                          "in_stock": True, "subtitle": "In stock", "image": "/widget/demo/images/KT-102.svg",
                          "url": "/#product-KT-102"}]}
    payloads = channel.render(message, {"address": "9", "base_url": "https://bot.example"})
    texts = [p for p in payloads if p["method"] == "sendMessage"]
    assert len(texts) == 3 and all(len(p["text"]) <= 4096 for p in texts)
    keyboard = texts[1]["reply_markup"]["inline_keyboard"]
    assert [b[0]["callback_data"] for b in keyboard] == ["/affirm", "Tell me more"]  # 64-byte limit
    card = texts[2]
    assert card["text"].startswith("Dutch Oven\n129.00 USD · In stock")
    assert card["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://bot.example/#product-KT-102"


async def test_shopkeep_channels_points_telegram_at_the_webhook_with_the_secret(api, tmp_path):
    env = {**os.environ, "SHOPKEEP_DATA_DIR": str(tmp_path), "SHOPKEEP_TELEGRAM_TOKEN": TOKEN,
           "SHOPKEEP_TELEGRAM_SECRET": SECRET, "SHOPKEEP_TELEGRAM_API_URL": api.url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "channels", "--url", "https://bot.example", "--set-telegram-webhook",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "telegram   on   https://bot.example/webhooks/telegram" in out.decode()
    [call] = api.matching(lambda c: c.path == f"/bot{TOKEN}/setWebhook")
    assert call.json == {"url": "https://bot.example/webhooks/telegram", "secret_token": SECRET,
                         "allowed_updates": ["message", "callback_query"]}
    assert "pending updates 0" in out.decode()


async def test_a_photo_sent_to_a_person_is_kept_for_them_and_the_bot_stays_silent(bot, api):
    await bot.post("/webhooks/telegram", json=update(60, "I want to talk to a human"), headers=HEADERS)
    await api.wait_for(sent(api))
    await bot.post("/webhooks/telegram", json=update(61, photo=[{"file_id": "damaged-box"}]), headers=HEADERS)
    await api.quiet(2.0)
    assert len(api.matching(sent(api))) == 1  # no "I can only read text" while a person has it
    transcript = await bot.app[outbox_key].after("telegram:4242")
    assert transcript[-1]["role"] == "user" and transcript[-1]["message"]["text"] == "[image: id damaged-box]"


async def test_two_worker_processes_answer_every_update_once_and_in_order(api, config, redis_server, tmp_path):
    import aiohttp

    from tests.helpers import start_server

    env = {"SHOPKEEP_TELEGRAM_TOKEN": TOKEN, "SHOPKEEP_TELEGRAM_SECRET": SECRET, "SHOPKEEP_TELEGRAM_API_URL": api.url}
    proc, port = await asyncio.to_thread(start_server, config.data_dir, redis_server.url, tmp_path / "server.log",
                                         2, env)
    questions = ["Do you accept PayPal?", "How long does shipping take?", "Do you ship to Canada?"]
    try:
        async with aiohttp.ClientSession() as session:
            async def post(body):
                async with session.post(f"http://127.0.0.1:{port}/webhooks/telegram", json=body,
                                        headers=HEADERS) as resp:
                    assert resp.status == 200

            for n, question in enumerate(questions):  # each chat's questions in turn, each update sent twice
                bodies = [update(1000 + 10 * chat + n, question, chat_id=900 + chat) for chat in range(8)]
                await asyncio.gather(*(post(b) for b in bodies + bodies))
            await api.wait_for(lambda c: c.path.endswith("/sendMessage"), count=8 * len(questions), timeout=90)
            await api.quiet(2.0)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
    for chat in range(8):
        texts = [c.json["text"] for c in api.matching(sent(api, 900 + chat))]
        assert len(texts) == len(questions), texts  # once each, not twice
        assert "PayPal" in texts[0] and "business days" in texts[1] and "Canada" in texts[2]


async def test_a_reply_left_unsent_by_a_process_that_died_is_sent_by_the_rerun_once(bot, api):
    from bot.channels.webhooks import Inbound, messaging_key

    outbox, channel = bot.app[outbox_key], bot.app[messaging_key]["telegram"]
    sender = outbox._senders["telegram"]

    async def dies(record, entries):  # the process dies after adding the reply, before sending it
        raise RuntimeError("process killed")

    outbox.register("telegram", dies)
    await bot.post("/webhooks/telegram", json=update(70, "Do you accept PayPal?"), headers=HEADERS)
    for _ in range(100):
        if [e for e in await outbox.after("telegram:4242") if e["role"] == "bot"]:
            break
        await asyncio.sleep(0.1)
    assert api.matching(sent(api)) == []
    outbox.register("telegram", sender)
    # another process takes the event over (the inbox's reclaim) and runs it again
    await channel.process(Inbound("telegram", "70", "4242", text="Do you accept PayPal?"))
    [call] = await api.wait_for(sent(api))
    assert "PayPal" in call.json["text"]
    await channel.process(Inbound("telegram", "70", "4242", text="Do you accept PayPal?"))
    await api.quiet(1.0)
    assert len(api.matching(sent(api))) == 1  # and only once


async def test_a_message_delivered_by_a_process_without_the_platform_reaches_the_shopper(bot, api, config):
    import redis.asyncio as redis

    from bot.channels.outbound import Outbox

    await bot.post("/webhooks/telegram", json=update(80, "hello"), headers=HEADERS)
    await api.wait_for(sent(api))
    script = redis.from_url(config.sessions.redis_url)  # a script of the store's, or a console elsewhere
    try:
        await Outbox(script, config.sessions.key_prefix).deliver(
            "telegram:4242", [{"text": "A person: your parcel left today."}], role="agent")
    finally:
        await script.aclose()
    calls = await api.wait_for(sent(api), count=2)
    assert calls[1].json["text"] == "A person: your parcel left today."
    await bot.post("/webhooks/telegram", json=update(81, "Do you accept PayPal?"), headers=HEADERS)
    calls = await api.wait_for(sent(api), count=3)
    assert "PayPal" in calls[2].json["text"]
    await api.quiet(1.0)
    assert len(api.matching(sent(api))) == 3  # each once


async def test_start_and_help_are_answered_with_the_greeting(bot, api):
    await bot.post("/webhooks/telegram", json=update(90, "/start"), headers=HEADERS)
    [call] = await api.wait_for(sent(api))
    assert "Maple & Pine" in call.json["text"] and call.json["reply_markup"]["inline_keyboard"]
    await bot.post("/webhooks/telegram", json=update(91, "/HELP@maple_pine_bot"), headers=HEADERS)
    calls = await api.wait_for(sent(api), count=2)
    assert "Maple & Pine" in calls[1].json["text"]
    transcript = await bot.app[outbox_key].after("telegram:4242")
    assert transcript[0]["message"]["text"] == "/start"


def test_the_transcript_keeps_a_reference_to_what_the_bot_cannot_read():
    from bot.channels.webhooks import media_text

    assert media_text({"other": "voice", "id": "AwACvoice1"}) == "[voice: id AwACvoice1]"
    assert media_text({"other": "audio/ogg", "url": "https://api.twilio.com/x/ME2"}) == \
        "[audio/ogg: https://api.twilio.com/x/ME2]"
    assert media_text({"image": {"id": "AgAC"}}) == "[image: id AgAC]"
    assert media_text({"other": "sticker"}) == "[sticker]"
    assert media_text({"location": {"latitude": 1.5, "longitude": 2}}) == "[location: 1.5, 2]"


async def test_while_handed_off_an_emoji_gets_silence_and_a_captioned_photo_keeps_its_reference(bot, api):
    await bot.post("/webhooks/telegram", json=update(100, "I want to talk to a human"), headers=HEADERS)
    await api.wait_for(sent(api))
    await bot.post("/webhooks/telegram", json=update(101, "👍"), headers=HEADERS)
    await bot.post("/webhooks/telegram", json=update(102, photo=[{"file_id": "lamp"}], caption="the broken lamp"),
                   headers=HEADERS)
    await api.quiet(2.0)
    assert len(api.matching(sent(api))) == 1  # silent: no "What would you like to know?"
    transcript = await bot.app[outbox_key].after("telegram:4242")
    assert transcript[-1]["message"]["text"] == "[image: id lamp] the broken lamp"
