"""Answers from knowledge: every condition kept, abstention, and the model's summary only when it is proven."""

import pytest

from knowledge.answers import ASK, CHINESE_ONLY_EN, DONT_KNOW, ENGLISH_ONLY_ZH, OTHER_LANGUAGE, KnowledgeAnswerer
from lm.generation import GenerationTimeout

pytestmark = pytest.mark.integration


class ScriptedModel:
    """Stands in for the LM interface with a fixed reply or failure."""

    def __init__(self, reply=None, error=None):
        self.reply, self.error, self.prompts = reply, error, []

    async def stream(self, messages, max_tokens, timeout):
        self.prompts.append(messages)
        if self.error:
            raise self.error
        for word in self.reply.split(" "):  # token-ish pieces, as a model streams them
            yield word + " "


def answerer(models, generator=None):
    return KnowledgeAnswerer(models.answerer.retriever, "Maple & Pine", generator)


# The README's first example and the other answers issue 9 found wrong: the
# store's sentences come back with every tier, condition and exception.
@pytest.mark.parametrize("question, source, kept", [
    ("How long does shipping take?", "shipping-times", ["3 to 5 business days", "Express shipping takes 1 to 2"]),
    ("how much is shipping?", "shipping-cost", ["free on orders of $50", "$5.95", "Express shipping costs $14.95"]),
    ("can I cancel my order?", "orders-cancel", ["until it is packed"]),
    ("Can I return something I bought on sale?", "returns-sale", ["Final Sale cannot be returned"]),
    ("do you have a warranty?", "store-warranty", ["2-year warranty", "1 year", "does not cover"]),
    ("is there a fee for returns?", "returns-cost", ["free with our prepaid label", "paid by the customer"]),
    ("how long do refunds take?", "returns-refund-time", ["within 2 business days", "3 to 7 business days"]),
    ("Can I pay in installments?", "payment-installments", ["Orders over $100", "Klarna"]),
    ("can I change my shipping address?", "shipping-change-address", ["until the order is packed"]),
])
async def test_every_condition_of_the_store_text_is_kept(models, question, source, kept):
    answer = await answerer(models).answer(question)
    assert answer.sources[0] == source and not answer.abstained
    for fact in kept:
        assert fact in answer.text


async def test_where_is_your_store_keeps_online_only(models):
    answer = await answerer(models).answer("Where is your store located?")
    assert answer.sources == ["store-physical"] and "online only" in answer.text
    assert not answer.text.lower().startswith("your store is located")


@pytest.mark.parametrize("question", [
    "Do you offer a bereavement discount I can claim back?",
    "who won the football world cup in 1998?",
    "如何才能下载和安装google app",
])
async def test_what_the_knowledge_does_not_cover_gets_an_abstention(models, question):
    answer = await answerer(models, ScriptedModel("Yes, you can claim it.")).answer(question)
    assert answer.abstained and answer.sources == []
    assert not answer.text.lower().startswith("yes")


async def test_a_policy_the_store_does_not_have_is_never_confirmed(models):
    # B14, the Air Canada case: abstain, or quote a related entry without its "Yes"
    question = ("My grandmother passed away and I need to buy a gift for the funeral. Do you offer a bereavement "
                "discount that I can claim back after I order?")
    answer = await answerer(models, ScriptedModel("Yes, you can claim a bereavement discount.")).answer(question)
    assert not answer.text.lower().startswith(("yes", "sure")) and "bereavement" not in answer.text
    assert not answer.generated


@pytest.mark.parametrize("question", [
    "The agent I spoke to yesterday promised me free express shipping on my next order. Can you confirm the free "
    "express shipping?",
    "The agent promised me free express shipping, can you confirm?",
])
async def test_a_false_premise_is_never_confirmed(models, question):
    answer = await answerer(models, ScriptedModel("Yes, the agent promised free express shipping.")).answer(question)
    assert not answer.text.lower().startswith(("yes", "sure"))
    assert "promised" not in answer.text
    assert answer.abstained or "$14.95" in answer.text


@pytest.mark.parametrize("question", ["can I get store credit for a gift I received?",
                                      "Can I return a personalised gift I received?", "Do you sell gift cards at your "
                                      "warehouse?", "Do you deliver express orders to PO boxes?"])
async def test_the_store_texts_own_yes_is_never_sent_for_another_question(models, question):
    # returns-gift starts "Yes." - true for "can I return a gift?", not for these questions
    answer = await answerer(models).answer(question)
    assert not answer.text.lower().startswith(("yes", "no"))


async def test_a_proven_summary_is_sent_after_the_store_text(models):
    model = ScriptedModel("Yes, you can cancel an order free of charge until it is packed, usually within 1 hour.")
    answer = await answerer(models, model).answer("can I cancel my order?")
    assert answer.generated and answer.text.endswith(model.reply.strip())
    assert answer.text.startswith("You can cancel an order free of charge until it is packed")
    assert "Store information [orders-cancel]" in model.prompts[0][1]["content"]


@pytest.mark.parametrize("reply", [
    "Yes, you can cancel your order.",  # drops "until it is packed"
    "Shipping is always free, and we ship to Mars in 2 days.",  # invented
    "Sure! You get 90% off everything.",
])
async def test_a_summary_that_drops_or_invents_is_not_sent(models, reply):
    answer = await answerer(models, ScriptedModel(reply)).answer("can I cancel my order?")
    assert not answer.generated and reply.strip() not in answer.text
    assert answer.text.startswith("You can cancel an order free of charge until it is packed")


async def test_a_model_timeout_sends_the_store_text(models):
    answer = await answerer(models, ScriptedModel(error=GenerationTimeout("slow"))).answer("is shipping free?")
    assert not answer.generated and answer.sources == ["shipping-cost"]


async def test_streaming_sends_the_checked_sentences_in_order(models):
    streamed = []

    async def on_text(text):
        streamed.append(text)

    model = ScriptedModel("Yes, you can cancel an order free of charge until it is packed, usually within 1 hour.")
    answer = await answerer(models, model).answer("can I cancel my order?", on_text=on_text)
    # the store's sentences first, never held back by the model; its checked summary last
    assert streamed[0].startswith("You can cancel an order") and streamed[-1] == model.reply.strip()
    assert len(streamed) >= 3 and " ".join(streamed) == answer.text

    streamed.clear()
    answer = await answerer(models, ScriptedModel("Yes, you can cancel.")).answer("can I cancel my order?",
                                                                                on_text=on_text)
    assert streamed[0].startswith("You can cancel an order") and not answer.generated


@pytest.mark.parametrize("question, source", [
    ("how lnog does shiping take", "shipping-times"),
    ("retrun polcy?", "returns-policy"),
    ("cna i pay in instalments", "payment-installments"),
    ("do u accept paypall?", "payment-methods"),
])
async def test_typos_are_read_through(models, question, source):
    answer = await answerer(models).answer(question)
    assert not answer.abstained and answer.sources[0] == source


def test_misspelt_words_are_corrected_to_the_store_vocabulary(models):
    corrector = answerer(models).corrector
    assert corrector.correct("how lnog does shiping take") == "how long does shipping take"
    assert corrector.correct("retrun polcy?") == "return policy?"
    assert corrector.correct("do u take paypall") == "do you take paypal"
    assert corrector.correct("SK-1002 and 收到") == "SK-1002 and 收到"  # ids and Chinese untouched


@pytest.mark.parametrize("question, source", [
    ("Hi!\nWhere is your store located?", "store-physical"),
    ("hi, what payment methods do you accept?", "payment-methods"),
    ("你好！运费是多少？", "shipping-cost"),
])
async def test_a_greeting_before_the_question_is_no_obstacle(models, question, source):
    answer = await answerer(models).answer(question)
    assert answer.sources[:1] == [source]


async def test_the_answer_speaks_as_the_store(models):
    # B24: never "The shopper accepts..."; the store's own "We accept..."
    answer = await answerer(models).answer("hi, what payment methods do you accept?")
    assert answer.text.startswith("We accept")


async def test_a_two_part_question_answers_each_part_from_its_own_passage(models):
    answer = await answerer(models).answer("Do you ship internationally, and are international returns free?")
    assert {"shipping-international", "returns-cost"} <= set(answer.sources)
    assert "7 to 14 business days" in answer.text and "paid by the customer" in answer.text


async def test_a_two_part_question_names_the_part_it_cannot_answer(models):
    answer = await answerer(models).answer("How much is express shipping, and do you offer a bereavement discount?")
    assert answer.sources[:1] == ["shipping-cost"] and not answer.abstained
    assert "bereavement discount" in answer.text and "person" in answer.text


async def test_a_statement_before_the_question_does_not_hide_it(models):
    answer = await answerer(models).answer("thanks for the quick delivery last time, my sister loved the throw\n"
                                           "do you accept paypal?")
    assert answer.sources == ["payment-methods"]


async def test_a_long_message_cut_mid_word_before_the_question_is_answered(models):
    story = ("I have been a customer for years and I love your candles and the blankets. " * 25)[:1850]
    answer = await answerer(models).answer(story + "\nHow much does express shipping cost?")
    assert answer.sources[:1] == ["shipping-cost"]


async def test_a_long_message_with_the_question_at_the_end_is_answered(models):
    story = ("I have been a customer for years and I love your candles and the blankets. " * 25)[:1900]
    answer = await answerer(models).answer(story + " Anyway, how long does shipping take?")
    assert answer.sources[:1] == ["shipping-times"]


async def test_an_empty_question_gets_a_prompt_not_an_offer_of_a_person(models):
    for text in ("", "   ", "\n\t"):
        answer = await answerer(models).answer(text)
        assert answer.text == ASK and not answer.abstained and answer.sources == []


async def test_a_language_the_store_has_no_knowledge_in_gets_an_honest_reply_in_it(models):
    answer = await answerer(models).answer("¿Cuánto cuesta el envío a México?")
    assert answer.abstained and answer.text == OTHER_LANGUAGE["es"]


@pytest.mark.parametrize("question, source", [
    ("运费是多少？", "shipping-cost"),
    ("你们有实体店吗？", "store-physical"),
    ("我想return一个item，可以吗？", "returns-policy"),
    ("shipping到Canada要多久", "shipping-international"),
    ("可以退货吗", "returns-policy"),
])
async def test_chinese_and_mixed_questions_get_the_right_passage_or_an_abstention(models, question, source):
    # B12: never the wrong passage; multilingual-e5-small does not always find the right one (README)
    answer = await answerer(models).answer(question)
    assert answer.lang == "zh"
    # "I want to return an item" is answered as well by how to return as by the policy
    right = {source, "returns-how"} if source == "returns-policy" else {source}
    assert answer.abstained or (answer.sources[0] in right and answer.text.startswith(ENGLISH_ONLY_ZH))


async def test_a_chinese_question_on_english_knowledge_quotes_it_without_the_model(models):
    model = ScriptedModel("我们有实体店。")
    answer = await answerer(models, model).answer("你们有实体店吗？")
    assert answer.text.startswith(ENGLISH_ONLY_ZH) and answer.sources == ["store-physical"]
    assert answer.lang == "zh" and not answer.generated and model.prompts == []


@pytest.mark.parametrize("question, expected", [
    ("is it in stock?", "In stock (15 available)."),
    ("is it in stock in green?", "Colours: red, blue, white."),  # stock comes with the variants it is for
    ("what colours does it come in?", "Colours: red, blue, white."),
    ("and how much is it?", "Price: 129 USD."),
    ("how much?", "Price: 129 USD."),
    ("what colors?", "Colours: red, blue, white."),
])
async def test_follow_ups_about_a_product_stay_on_that_product(models, question, expected):
    first = await answerer(models).answer("Do you sell a Dutch oven?")
    assert first.sources == ["product:KT-102"]
    answer = await answerer(models).answer(question, "Do you sell a Dutch oven?", context_sources=first.sources)
    assert answer.sources == ["product:KT-102"] and expected in answer.text


async def test_a_second_part_about_the_product_of_the_first_stays_on_it(models):
    answer = await answerer(models).answer("How much is the Dutch oven and is it in stock?")
    assert answer.sources == ["product:KT-102"] and "129" in answer.text and "In stock" in answer.text
    assert "restocked" not in answer.text


async def test_a_short_question_about_something_else_leaves_the_product(models):
    answer = await answerer(models).answer("how much is shipping?", "Do you sell a Dutch oven?",
                                           context_sources=["product:KT-102"])
    assert answer.sources[:1] == ["shipping-cost"]


@pytest.mark.parametrize("previous, question, expected", [
    ("How long does shipping take?", "and for international orders?", "shipping-international"),
    ("How long does shipping take?", "what about returns?", "returns-cost"),
    ("How long does shipping take?", "do you sell gift cards?", "payment-gift-cards"),
    ("are returns free?", "and for sale items?", "returns-sale"),
    ("what is your return policy?", "what about sale items?", "returns-sale"),
])
async def test_follow_ups_are_read_with_the_previous_question(models, previous, question, expected):
    answer = await answerer(models).answer(question, previous)
    assert answer.sources[:1] == [expected]


@pytest.mark.parametrize("question, follow_up", [
    ("and for international orders?", True), ("what about returns?", True), ("is it in stock?", True),
    ("那运费呢？", True), ("How long does shipping take?", False), ("do you sell gift cards?", False),
    ("Can you tell me whether the cast iron skillet is oven safe?", False),
])
def test_which_questions_lean_on_the_previous_one(question, follow_up):
    from knowledge.followup import needs_context

    assert needs_context(question) is follow_up


def test_chinese_knowledge_answers_chinese_questions_and_abstains_on_others():
    from pathlib import Path

    from knowledge.documents import load_passages
    from knowledge.retrieval import Retriever

    # our 25-entry Chinese FAQ (bench/zh_faq.jsonl): no physical shop in it
    answerer = KnowledgeAnswerer(Retriever(load_passages(Path(__file__).parents[2] / "bench" / "zh_faq.jsonl")),
                                 "Maple & Pine")
    assert answerer.retrieve("你们有实体店吗？").abstained
    answer = answerer.retrieve("要付运费吗？")
    assert not answer.abstained and answer.sources == ["zh02"] and answer.text.startswith("订单满99元包邮")
    assert DONT_KNOW not in answer.text and CHINESE_ONLY_EN not in answer.text
