"""Whole conversations through the REST channel, on a real Redis and real models."""

import pytest

from bot.server import assistant_key
from tests.helpers import say, texts

pytestmark = pytest.mark.integration


async def test_question_gets_a_grounded_answer_naming_its_source(client):
    messages = await say(client, "shopper-1", "how long does shipping take?")
    assert messages[0]["recipient_id"] == "shopper-1"
    assert messages[0]["custom"]["sources"] == ["shipping-times"]
    assert "3 to 5 business days" in messages[0]["text"] and "Express shipping takes 1 to 2" in messages[0]["text"]


async def test_a_follow_up_question_is_read_with_the_one_before(client):
    await say(client, "shopper-11", "how long does shipping take?")
    messages = await say(client, "shopper-11", "and for international orders?")
    assert messages[0]["custom"]["sources"] == ["shipping-international"]


async def test_a_chinese_question_is_answered_from_the_english_knowledge(client):
    messages = await say(client, "shopper-12", "你们有实体店吗？")
    assert messages[0]["custom"]["sources"] == ["store-physical"]
    # the store's English words, introduced in Chinese
    assert messages[0]["text"].startswith("以下是我们关于这个问题的说明")


async def test_where_is_my_order_starts_the_form_and_answers(client):
    ask = await say(client, "shopper-2", "where is my order")
    assert "order number" in texts(ask)
    proof = await say(client, "shopper-2", "SK-1002")
    assert "e-mail address or the postcode" in texts(proof) and "UPS" not in texts(proof)
    answer = await say(client, "shopper-2", "sam.lee@example.com")
    assert "SK-1002" in texts(answer) and "UPS" in texts(answer)


async def test_order_id_in_the_first_message_skips_the_question(client):
    proof = await say(client, "shopper-3", "can you check order sk1010 please")
    assert "e-mail address or the postcode" in texts(proof)
    answer = await say(client, "shopper-3", "02116")
    assert "SK-1010" in texts(answer) and "delayed" in texts(answer)


async def test_unknown_order_id_is_refused_and_asked_again(client):
    await say(client, "shopper-4", "where is my order")
    await say(client, "shopper-4", "SK-9999")  # not said to exist or not: the details are asked for
    reply = texts(await say(client, "shopper-4", "someone@example.com"))
    assert "couldn't find an order with that number and those details" in reply
    assert "order number" in reply


async def test_question_in_the_middle_of_a_form_is_answered_then_the_form_asks_again(client):
    await say(client, "shopper-5", "where is my order")
    messages = await say(client, "shopper-5", "what is your return policy?")
    assert messages[0]["custom"]["sources"] == ["returns-policy"]
    assert "order number" in messages[-1]["text"]
    await say(client, "shopper-5", "SK-1001")
    done = await say(client, "shopper-5", "alex.morgan@example.com")
    assert "delivered" in texts(done)


async def test_stop_ends_the_form(client):
    await say(client, "shopper-6", "where is my order")
    assert "stopped" in texts(await say(client, "shopper-6", "never mind"))
    # the next message is handled normally, not as an order number
    assert "Maple & Pine assistant" in texts(await say(client, "shopper-6", "hello"))


async def test_question_the_knowledge_does_not_cover_gets_an_honest_answer(client):
    messages = await say(client, "shopper-7", "what is the airspeed velocity of an unladen swallow?")
    assert messages[0]["custom"] == {"sources": [], "abstained": True}
    assert "don't" in messages[0]["text"] and "person" in messages[0]["text"]


async def test_handoff_pauses_the_bot_until_the_shopper_takes_it_back(client):
    assert "person from our team" in texts(await say(client, "shopper-8", "I want to talk to a human"))
    assert await say(client, "shopper-8", "how long does shipping take?") == []  # silent: a person has it
    assert "withdrawn" in texts(await say(client, "shopper-8", "never mind"))
    answer = await say(client, "shopper-8", "how long does shipping take?")
    assert answer[0]["custom"]["sources"] == ["shipping-times"]


async def test_history_is_stored_in_redis_in_order(client):
    for message in ["hi", "where is my order", "SK-1004", "jordan.diaz@example.com", "thanks"]:
        await say(client, "shopper-9", message)
    from bot.typedefs import assistant_key

    session = await client.app[assistant_key].sessions.load("shopper-9")
    user_texts = [e["text"] for e in session.history if e["event"] == "user"]
    assert user_texts == ["hi", "where is my order", "SK-1004", "jordan.diaz@example.com", "thanks"]
    assert session.active_form is None and session.slots.get("order_id") is None


async def test_entities_from_the_catalog_fill_slots(client):
    await say(client, "shopper-10", "do you have 2 Linen Duvet Covers in sage, queen size? mail me at jo@example.com")
    from bot.typedefs import assistant_key

    session = await client.app[assistant_key].sessions.load("shopper-10")
    assert session.slots["product"] == "Linen Duvet Cover"
    assert session.slots["colour"] == "sage" and session.slots["size"] == "queen"
    assert session.slots["quantity"] == 2 and session.slots["email"] == "jo@example.com"


# Issue 9's cases (../shared/cases B04, B07, B19, B20, B21) through the whole turn.

async def test_a_greeting_and_a_question_on_two_lines_gets_the_answer(client):
    messages = await say(client, "b04", "Hi!\nWhere is your store located?")
    assert messages[-1]["custom"]["sources"] == ["store-physical"] and "online only" in messages[-1]["text"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "?", "...", "\u200b"])
async def test_an_empty_message_gets_a_prompt_and_nothing_is_stored(client, text):
    messages = await say(client, "b07", text)
    assert len(messages) == 1 and "What would you like to know?" in messages[0]["text"]
    assert "person" not in messages[0]["text"] and "custom" not in messages[0]
    history = await client.app[assistant_key].sessions.load("b07")
    assert history.history == []


async def test_an_empty_message_during_the_order_form_does_not_disturb_it(client):
    await say(client, "b07b", "where is my order")
    messages = await say(client, "b07b", "")
    assert len(messages) == 1 and "person" not in messages[0]["text"]
    assert "e-mail address or the postcode" in texts(await say(client, "b07b", "SK-1002"))


async def test_a_task_and_a_question_in_one_message_both_get_answered(client):
    messages = await say(client, "b19b", "Do you accept PayPal? Also, where is my order SK-1002?")
    assert "e-mail address or the postcode" in texts(messages)
    assert any("payment-methods" in m.get("custom", {}).get("sources", []) for m in messages)


async def test_an_order_and_a_policy_question_in_one_sentence_both_get_answered(client):
    messages = await say(client, "b19c", "Where is my order SK-1003 and can I still change the delivery address?")
    assert "e-mail address or the postcode" in texts(messages)
    assert any("shipping-change-address" in m.get("custom", {}).get("sources", []) for m in messages)


async def test_follow_ups_about_a_product_keep_the_product(client):
    first = await say(client, "b20", "Do you sell a Dutch oven?")
    assert first[0]["custom"]["sources"] == ["product:KT-102"]
    for question, fact in [("is it in stock?", "In stock"), ("what colours does it come in?", "red, blue, white"),
                           ("and how much is it?", "129")]:
        reply = await say(client, "b20", question)
        assert reply[0]["custom"]["sources"] == ["product:KT-102"] and fact in reply[0]["text"], question


async def test_an_order_id_written_with_a_space_is_read(client):
    await say(client, "b21", "wher is my ordr")
    reply = texts(await say(client, "b21", "SK 1002"))
    assert "e-mail address or the postcode" in reply and "order number" not in reply
    assert "SK-1002" in texts(await say(client, "b21", "sam.lee@example.com"))


async def test_a_chinese_shopper_gets_the_chinese_responses_and_keeps_them_for_an_order_id(client):
    greeting = await say(client, "zh-1", "你好")
    assert greeting[0]["text"].startswith("您好") and greeting[0]["buttons"][0]["title"] == "查询我的订单"
    assert "condition" not in greeting[0]
    ask = await say(client, "zh-1", "我要查订单")
    assert "订单号" in texts(ask)
    english = await say(client, "en-1", "hello there")
    assert english[0]["text"].startswith("Hi! I'm the Maple & Pine assistant")


async def test_yes_to_the_offer_of_a_person_hands_the_conversation_over(client):
    offer = await say(client, "offer-1", "do you offer a bereavement discount?")
    assert offer[0]["custom"]["abstained"] and offer[0]["buttons"][0]["title"] == "Yes, connect me"
    handed = await say(client, "offer-1", "yes please")
    assert "anything else" not in texts(handed).lower()
    assert (await client.app[assistant_key].sessions.load("offer-1")).handoff


async def test_a_handed_off_shopper_back_after_a_long_silence_is_reminded(client, monkeypatch):
    import bot.dialogue.engine as engine

    await say(client, "shopper-8b", "I want to talk to a human")
    assert await say(client, "shopper-8b", "hello?") == []
    monkeypatch.setattr(engine, "HANDOFF_REMINDER_S", 0)  # as if the shopper had been away a long time
    assert "passed to our team" in texts(await say(client, "shopper-8b", "is anyone there?"))


async def test_a_handed_off_shopper_sending_only_an_emoji_gets_silence(client):
    await say(client, "shopper-8c", "I want to talk to a human")
    assert await say(client, "shopper-8c", "👍") == []
    assert "What would you like" in texts(await say(client, "shopper-8d", "👍"))  # not handed off: the prompt
