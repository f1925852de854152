"""Handoffs end to end through the console's API: what raises one, the queue, taking over,
replying into the shopper's channel, handing back, history, deletion and the summary
(real Redis, real models, the real app)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from bot.console.cli import _conversations
from bot.console.hours import SupportHours
from bot.server import init_app
from bot.typedefs import desk_key, outbox_key, redis_key
from tests.bot.console.conftest import WidgetShopper, login, shopper_says

pytestmark = pytest.mark.integration
API = "/console/api"


async def queue(client) -> list[dict]:
    return (await (await client.get(f"{API}/queue")).json())["queue"]


async def view(client, conversation_id: str) -> dict:
    resp = await client.get(f"{API}/conversations/{conversation_id}")
    assert resp.status == 200
    return await resp.json()


@pytest.mark.parametrize("text, lang", [("I want to talk to a person", "en"), ("我要转人工客服", "zh")])
async def test_asking_for_a_person_puts_the_conversation_in_the_queue(client, agent_store, text, lang):
    await login(client)
    replies = await shopper_says(client, f"ask-{lang}", text)
    assert replies and ("person" in replies[0]["text"] or "转接" in replies[0]["text"])
    [item] = await queue(client)
    assert item["id"] == f"ask-{lang}" and item["reason"] == "asked_for_person" and item["lang"] == lang
    assert item["status"] == "waiting" and item["agent"] is None and item["channel"] == "rest"
    assert item["last_messages"][0]["text"] == text  # (Rasa's REST channel: from the session's history)


async def test_two_unanswered_questions_in_a_row_go_to_a_person(client, agent_store):
    await login(client)
    first = await shopper_says(client, "gap-1", "Do you sell helicopters?")
    assert first[0]["custom"]["abstained"] and first[0]["buttons"]  # the first: an offer
    assert await queue(client) == []
    second = await shopper_says(client, "gap-1", "What is the capital of Peru?")
    assert second[0]["custom"]["abstained"] and "buttons" not in second[0]
    assert "Would you like" not in second[0]["text"]  # not offered: it happens
    assert "passing this" in second[1]["text"]
    [item] = await queue(client)
    assert item["reason"] == "not_answered"
    # both questions are knowledge gaps in the store's summary
    gaps = {g["question"] for g in (await (await client.get(f"{API}/metrics")).json())["knowledge_gaps"]}
    assert {"Do you sell helicopters?", "What is the capital of Peru?"} <= gaps


async def test_an_answered_question_in_between_resets_the_count(client, agent_store):
    await login(client)
    await shopper_says(client, "gap-2", "Do you sell helicopters?")
    await shopper_says(client, "gap-2", "Do you accept PayPal?")
    await shopper_says(client, "gap-2", "What is the capital of Peru?")
    assert await queue(client) == []


async def test_a_furious_shopper_goes_to_a_person_first(client, agent_store):
    await login(client)
    await shopper_says(client, "calm", "I want to talk to a person")
    replies = await shopper_says(client, "angry", "This is the worst customer service ever, absolutely pathetic "
                                                  "and disgraceful.")
    assert "passing this" in replies[0]["text"]
    items = await queue(client)
    assert [i["id"] for i in items] == ["angry", "calm"]  # angry first, though it waited less
    assert items[0]["reason"] == "negative_sentiment" and items[0]["priority"] > items[1]["priority"]
    trace = next(iter((await view(client, "angry"))["turns"].values()))
    assert trace["sentiment"]["score"] <= -0.97


async def test_an_angry_question_the_knowledge_answers_is_answered_then_handed_over(client, agent_store):
    await login(client)
    replies = await shopper_says(client, "angry-q", "Do you accept PayPal? Your checkout is the worst, absolutely "
                                                    "pathetic and disgraceful!")
    assert "PayPal" in replies[0]["text"] and "passing this" in replies[-1]["text"]
    [item] = await queue(client)
    assert item["reason"] == "negative_sentiment"


async def test_ordinary_questions_do_not_go_to_a_person(client, agent_store):
    await login(client)
    for n, text in enumerate(["I changed my mind, cancel that", "I don't like red, show me blue",
                              "my parcel arrived damaged, what should I do?", "你们有实体店吗？", "我要退货"]):
        await shopper_says(client, f"calm-{n}", text)
    assert await queue(client) == []


async def test_outside_support_hours_the_shopper_is_told_when_and_can_leave_an_email(aiohttp_client, config,
                                                                                     models, agent_store):
    now = datetime.now(timezone.utc)
    tomorrow = (now + timedelta(days=1)).strftime("%a").lower()
    console = replace(config.console, support_hours=(f"{tomorrow} 09:00-17:00",), timezone="UTC")
    client = await aiohttp_client(init_app(replace(config, console=console), models))
    await login(client)
    replies = await shopper_says(client, "night", "I want to talk to a person")
    assert "away right now" in replies[-1]["text"] and "from tomorrow at 09:00" in replies[-1]["text"]
    noted = await shopper_says(client, "night", "sure, it's ana.lopez@example.com")
    assert "ana.lopez@example.com" in noted[0]["text"]
    [item] = await queue(client)
    assert item["after_hours"] and item["contact_email"] == "ana.lopez@example.com"
    zh = await shopper_says(client, "night-zh", "我要转人工客服")
    assert "不在线" in zh[-1]["text"]


def test_support_hours():
    hours = SupportHours.parse(["mon-fri 09:00-17:00", "sat 10:00-14:00"], "Europe/London")
    friday_night = datetime(2026, 11, 27, 18, 0, tzinfo=hours.zone)
    assert not hours.is_open(friday_night) and hours.is_open(datetime(2026, 11, 27, 16, 59, tzinfo=hours.zone))
    assert hours.next_open(friday_night) == datetime(2026, 11, 28, 10, 0, tzinfo=hours.zone)
    assert hours.when(hours.next_open(friday_night), now=friday_night) == "tomorrow at 10:00"
    thursday = datetime(2026, 11, 26, 18, 0, tzinfo=hours.zone)
    assert hours.when(datetime(2026, 11, 30, 9, 0, tzinfo=hours.zone), "zh", now=thursday) == "周一 09:00"
    assert hours.describe() == "Mon-Fri 09:00-17:00, Sat 10:00-14:00 (Europe/London)"
    assert SupportHours.parse([]).is_open()
    for bad in (["mon-fri 9-5"], ["someday 09:00-10:00"], ["mon 10:00-09:00"]):
        with pytest.raises(ValueError):
            SupportHours.parse(bad)


async def test_take_over_reply_and_hand_back(client, agent_store):
    headers = await login(client)
    shopper = await WidgetShopper.open(client)
    s1 = shopper.id
    await shopper.says("I want to talk to a person")
    # replying before taking over is refused: nobody answers a shopper by accident
    resp = await client.post(f"{API}/conversations/{s1}/reply", json={"text": "hi"}, headers=headers)
    assert resp.status == 409
    resp = await client.post(f"{API}/conversations/{s1}/take", headers=headers)
    assert resp.status == 200 and (await resp.json())["handoff"]["agent"] == "ada"
    assert "ada from our team has joined" in (await shopper.hears("bot"))["message"]["text"]
    assert await shopper.says("hello? anyone there?") == []  # the bot stays silent
    resp = await client.post(f"{API}/conversations/{s1}/reply", json={"text": "Hi, I'm Ada. How can I help?"},
                             headers=headers)
    assert resp.status == 200 and (await resp.json())["entry"]["agent"] == "ada"
    assert (await resp.json())["delivery"] == "socket"
    assert (await shopper.hears("agent"))["message"]["text"] == "Hi, I'm Ada. How can I help?"  # live
    # "never mind" does not take the conversation from a person who is answering
    assert await shopper.says("never mind, I'll wait") == []
    assert (await queue(client))[0]["status"] == "taken"
    await client.post(f"{API}/conversations/{s1}/note", json={"text": "asked twice; be patient"}, headers=headers)
    seen = await view(client, s1)
    assert [e["role"] for e in seen["transcript"]] == ["user", "bot", "bot", "user", "agent", "user"]
    assert seen["notes"][0]["text"] == "asked twice; be patient"
    trace = seen["turns"][seen["transcript"][0]["client_id"]]
    assert trace["intent"] == "human_handoff" and trace["actions"] == ["action_handoff_to_human"]
    assert (await client.post(f"{API}/conversations/{s1}/handback", headers=headers)).status == 200
    assert await queue(client) == []
    for again in ("handback", "resolve"):  # nothing to hand back now: the shopper is not told twice
        resp = await client.post(f"{API}/conversations/{s1}/{again}", headers=headers)
        assert resp.status == 409 and (await resp.json())["handoff_status"] == "handed_back"
    assert "back with the" in (await shopper.hears("bot"))["message"]["text"]
    answer = await shopper.says("Do you accept PayPal?")
    assert "PayPal" in answer[0]["text"]  # the bot answers again
    assert (await view(client, s1))["handoff"]["status"] == "handed_back"


async def test_a_rest_shopper_cannot_get_a_persons_reply_and_the_agent_is_told(client, agent_store):
    headers = await login(client)
    await shopper_says(client, "rest-1", "I want to talk to a person")
    await client.post(f"{API}/conversations/rest-1/take", headers=headers)
    resp = await client.post(f"{API}/conversations/rest-1/reply", json={"text": "hi"}, headers=headers)
    assert resp.status == 409 and "cannot receive later messages" in (await resp.json())["error"]
    resp = await client.post(f"{API}/conversations/nobody/reply", json={"text": "hi"}, headers=headers)
    assert resp.status == 404


async def test_one_agent_per_conversation(client, aiohttp_client, agent_store):
    bob = await aiohttp_client(client.server)
    bob_headers, ada_headers = await login(bob, "bob"), await login(client, "ada")
    await shopper_says(client, "s2", "I want to talk to a person")
    assert (await bob.post(f"{API}/conversations/s2/take", headers=bob_headers)).status == 200
    resp = await client.post(f"{API}/conversations/s2/take", headers=ada_headers)
    assert resp.status == 409 and (await resp.json())["agent"] == "bob"
    assert (await client.post(f"{API}/conversations/s2/reply", json={"text": "me too"},
                              headers=ada_headers)).status == 409
    # an admin can take it over on purpose; then bob cannot reply any more
    resp = await client.post(f"{API}/conversations/s2/take", json={"force": True}, headers=ada_headers)
    assert resp.status == 200 and (await resp.json())["handoff"]["agent"] == "ada"
    assert (await bob.post(f"{API}/conversations/s2/reply", json={"text": "hi"}, headers=bob_headers)).status == 409
    # an agent cannot force
    resp = await bob.post(f"{API}/conversations/s2/take", json={"force": True}, headers=bob_headers)
    assert resp.status == 409


async def test_an_agent_can_pick_a_conversation_the_bot_has(client, agent_store):
    headers = await login(client)
    await shopper_says(client, "s3", "Do you accept PayPal?")
    assert (await client.post(f"{API}/conversations/s3/take", headers=headers)).status == 200
    [item] = await queue(client)
    assert item["reason"] == "agent_picked" and item["status"] == "taken"
    assert await shopper_says(client, "s3", "and Apple Pay?") == []  # the bot is silent now
    await client.post(f"{API}/conversations/s3/resolve", headers=headers)
    assert await queue(client) == []
    assert "Apple Pay" in (await shopper_says(client, "s3", "Do you accept Apple Pay?"))[0]["text"]


async def test_a_shopper_who_takes_the_request_back_leaves_the_queue(client, agent_store):
    await login(client)
    await shopper_says(client, "s4", "I want to talk to a person")
    assert len(await queue(client)) == 1
    await shopper_says(client, "s4", "never mind")
    assert await queue(client) == []


async def test_replies_are_checked(client, config, agent_store):
    headers = await login(client)
    await shopper_says(client, "s5", "I want to talk to a person")
    await client.post(f"{API}/conversations/s5/take", headers=headers)
    too_long = "a" * (config.server.max_message_chars + 1)
    assert (await client.post(f"{API}/conversations/s5/reply", json={"text": too_long},
                              headers=headers)).status == 413
    for body in (b"{bad", b'{"text": ""}', b'{"text": 5}', b"[1]"):
        resp = await client.post(f"{API}/conversations/s5/reply", data=body,
                                 headers={**headers, "Content-Type": "application/json"})
        assert resp.status == 400, body
    assert [e["role"] for e in (await view(client, "s5"))["transcript"]] == ["user", "bot"]  # nothing sent


async def test_a_suggested_reply_comes_from_the_knowledge_or_abstains(client, agent_store):
    headers = await login(client)
    await shopper_says(client, "s6", "Do you accept PayPal?")
    suggestion = await (await client.post(f"{API}/conversations/s6/suggest", headers=headers)).json()
    assert "PayPal" in suggestion["text"] and not suggestion["abstained"]
    assert suggestion["sources"][0]["title"]
    await shopper_says(client, "s7", "Do you sell helicopters?")
    suggestion = await (await client.post(f"{API}/conversations/s7/suggest", headers=headers)).json()
    assert suggestion["abstained"] and suggestion["text"] is None


async def test_search_export_canned_and_summary(client, agent_store):
    headers = await login(client)
    await shopper_says(client, "web-ana", "Do you accept PayPal?")
    bo = await WidgetShopper.open(client)
    await bo.says("I want to talk to a person")

    async def search(**query) -> list[str]:
        resp = await client.get(f"{API}/conversations", params=query)
        return [c["id"] for c in (await resp.json())["conversations"]]

    assert await search(q="paypal") == ["web-ana"]
    assert await search(sender="web-") == ["web-ana"] and await search(sender=bo.id[:8]) == [bo.id]
    assert await search(channel="rest") == ["web-ana"] and await search(channel="widget") == [bo.id]
    assert await search(channel="telegram") == []
    today = datetime.now(timezone.utc).date()
    assert len(await search(since=today.isoformat(), until=today.isoformat())) == 2
    assert await search(until=(today - timedelta(days=1)).isoformat()) == []
    assert (await client.get(f"{API}/conversations", params={"since": "yesterday"})).status == 400

    resp = await client.get(f"{API}/conversations/web-ana/export")
    assert "attachment" in resp.headers["Content-Disposition"]
    document = json.loads(await resp.text())
    assert document["id"] == "web-ana" and document["transcript"][0]["message"]["text"] == "Do you accept PayPal?"

    resp = await client.post(f"{API}/canned", json={"shortcut": "/refund", "text": "Refunds take 5-10 days.",
                                                    "lang": "en"}, headers=headers)
    assert resp.status == 200
    await client.post(f"{API}/canned", json={"shortcut": "/refund", "text": "退款需要5到10天。", "lang": "zh"},
                      headers=headers)
    canned = (await (await client.get(f"{API}/canned")).json())["canned"]
    assert [(c["shortcut"], c["lang"]) for c in canned] == [("/refund", "en"), ("/refund", "zh")]  # one per language
    assert (await client.post(f"{API}/canned", json={"shortcut": "no slash", "text": "x"},
                              headers=headers)).status == 400
    assert (await client.delete(f"{API}/canned/refund", headers=headers)).status == 200
    assert (await (await client.get(f"{API}/canned")).json())["canned"] == []

    await client.post(f"{API}/conversations/{bo.id}/take", headers=headers)
    await client.post(f"{API}/conversations/{bo.id}/reply", json={"text": "Hello!"}, headers=headers)
    summary = await (await client.get(f"{API}/metrics", params={"days": 7})).json()
    assert summary["conversations"] == 2 and summary["handoffs"] == 1
    assert summary["resolved_by_bot_share"] == 0.5 and summary["handoffs_by_reason"] == {"asked_for_person": 1}
    assert summary["median_first_response_s"] is not None and summary["per_day"][-1]["conversations"] == 2


async def test_a_shoppers_data_is_deleted_on_request(client, config, agent_store):
    headers = await login(client)
    await shopper_says(client, "gone-1", "I want to talk to a person")
    await shopper_says(client, "gone-10", "Do you accept PayPal?")  # an id that contains the other's
    await client.post(f"{API}/conversations/gone-1/take", headers=headers)
    await client.post(f"{API}/conversations/gone-1/note", json={"text": "vip"}, headers=headers)
    redis = client.app[redis_key]
    prefix = config.sessions.key_prefix
    assert [k async for k in redis.scan_iter(f"{prefix}:*:gone-1")]
    resp = await client.delete(f"{API}/conversations/gone-1", headers=headers)
    assert resp.status == 200 and (await resp.json())["deleted_keys"] >= 5
    left = [k.decode() async for k in redis.scan_iter(f"{prefix}:*gone-1*")]
    assert all("gone-10" in k for k in left) and left  # the other conversation is untouched
    assert await queue(client) == [] and (await client.get(f"{API}/conversations/gone-1")).status == 404

    # the same from the command line (`shopkeep conversations delete SENDER --yes`)
    class Args:
        action, sender, yes = "delete", "gone-10", True

    assert await _conversations(Args, config) == 0
    assert [k async for k in redis.scan_iter(f"{prefix}:*gone-10*")] == []


async def test_deleting_a_shopper_also_takes_their_words_out_of_the_summary(client, config, agent_store):
    headers = await login(client)
    words = "I'm Jane Roe, jane.roe@example.com, 12 Elm St - do you sell unicycles?"
    await shopper_says(client, "jane", words)
    await shopper_says(client, "kim", "do you sell unicycles?")
    gaps = {g["question"] for g in (await (await client.get(f"{API}/metrics")).json())["knowledge_gaps"]}
    assert words in gaps
    assert (await client.delete(f"{API}/conversations/jane", headers=headers)).status == 200
    summary = await (await client.get(f"{API}/metrics")).json()
    assert [g["question"] for g in summary["knowledge_gaps"]] == ["do you sell unicycles?"]  # kim's stay
    events = await client.app[redis_key].xrange(client.app[desk_key].events_key)
    assert all(fields[b"id"] != b"jane" for _, fields in events) and events


async def test_conversations_past_the_retention_leave_the_index(client, agent_store):
    desk = client.app[desk_key]
    await shopper_says(client, "old", "Do you accept PayPal?")
    await client.app[redis_key].zadd(desk.index_key, {"old": time.time() - desk.retention_s - 10})
    assert await desk.prune() == 1
    assert await desk.search() == []
    # the transcript itself expires with the retention (Redis TTL, refreshed by each message)
    ttl = await client.app[redis_key].ttl(client.app[outbox_key]._key("outbox", "old"))
    assert ttl == -2 or ttl > 86400  # REST keeps no transcript; others live for the retention


async def test_redis_going_away_gets_503_not_a_crash(aiohttp_client, config, models):
    dead = replace(config, sessions=replace(config.sessions, redis_url="redis://127.0.0.1:1/0",
                                            command_timeout_s=0.5, pool_timeout_s=0.5))
    client = await aiohttp_client(init_app(dead, models))
    resp = await client.post(f"{API}/login", json={"name": "ada", "password": "whatever it is"})
    assert resp.status == 503 and resp.headers["Retry-After"] == "1"
    resp = await client.get(f"{API}/queue", headers={"Cookie": "shopkeep_console=abc"})
    assert resp.status == 503


async def test_an_agents_reply_reaches_a_messaging_shopper_through_the_platforms_api(aiohttp_client, config,
                                                                                     models, agent_store):
    from bot.config import PlatformCredentials, TelegramCredentials
    from tests.bot.channels import test_telegram as telegram
    from tests.bot.channels.standin import StandIn

    api = await StandIn(telegram.ok).start()
    try:
        platforms = PlatformCredentials(telegram=TelegramCredentials(telegram.TOKEN, telegram.SECRET,
                                                                     api_url=api.url))
        client = await aiohttp_client(init_app(replace(config, platforms=platforms), models))
        headers = await login(client)
        resp = await client.post("/webhooks/telegram", json=telegram.update(1, "I want to talk to a person"),
                                 headers=telegram.HEADERS)
        assert resp.status == 200
        await api.wait_for(telegram.sent(api))  # the bot's "passing you to a person"
        [item] = await queue(client)
        assert item["id"] == "telegram:4242" and item["channel"] == "telegram"
        await client.post(f"{API}/conversations/telegram:4242/take", headers=headers)
        resp = await client.post(f"{API}/conversations/telegram:4242/reply",
                                 json={"text": "Hi Ana, Ada here. Let me check your order."}, headers=headers)
        assert resp.status == 200 and (await resp.json())["delivery"] == "api"
        calls = await api.wait_for(lambda c: telegram.sent(api)(c) and "Ada here" in c.json.get("text", ""))
        assert len(calls) == 1
    finally:
        await api.close()


async def test_the_console_shows_the_language_the_shopper_writes_not_the_pages(client, agent_store):
    await login(client)
    shopper = await WidgetShopper.open(client)  # (an English page)
    await shopper.says("我要转人工客服")
    [item] = await queue(client)
    assert item["lang"] == "zh" and (await view(client, shopper.id))["lang"] == "zh"


@pytest.mark.parametrize("text, lang, asks", [("I want to talk to a person", "en", "e-mail address"),
                                              ("我要转人工客服", "zh", "邮箱地址")])
async def test_a_rest_shopper_is_asked_for_an_email_address_instead_of_promised_a_reply(client, agent_store,
                                                                                       text, lang, asks):
    await login(client)
    replies = await shopper_says(client, f"rest-mail-{lang}", text)
    assert asks in replies[0]["text"] and "can't show" in replies[0]["text"] or "无法显示" in replies[0]["text"]
    noted = await shopper_says(client, f"rest-mail-{lang}", "ana@example.com")
    assert "ana@example.com" in noted[0]["text"]
    [item] = await queue(client)
    assert item["contact_email"] == "ana@example.com"
