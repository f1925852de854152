"""Rasa projects as their authors wrote them: the failing cases in /work/shared/cases (A01 ... B23),
each tested with the case's own files (skipped when the cases are not here) and with variations of the
same kind of fault written here (other names, intents, slots), as the cases' README asks.

Most tests run a Dialogue on a small project in tmp_path with hand-built parses (no models); those
marked `integration` load the demo store's models (the `models` fixture) or start an action server."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actions import store_data
from actions.order_forms import GUESSES
from bot.config import DEMO_CONFIG
from bot.dialogue.custom_actions import InProcessActions, RemoteActions
from bot.dialogue.domain import Domain
from bot.dialogue.engine import MESSAGE_KEYS, Dialogue
from bot.dialogue.policy import DEFAULT_ACTIONS, PolicyEnsemble
from bot.dialogue.rules import RulesError, load_policy
from bot.nlu.payloads import parse_payload
from bot.sessions.store import Session
from bot.yaml_files import read_yaml
from knowledge.answers import KnowledgeAnswer
from knowledge.shop import DEMO_STORE_DIR
from knowledge.shop.files import FileShop
from tests.conftest import DEMO_TODAY
from tests.helpers import free_port, stop_process, wait_for_port

CASES = Path(__file__).resolve().parents[4] / "shared" / "cases"
CASE_ACTIONS = "tests.bot.dialogue.case_actions"
REPO = Path(__file__).resolve().parents[3]


# -- helpers ------------------------------------------------------------------------------


def case(name: str) -> Path:
    """The shared case's folder; the test is skipped when the cases are not on this machine."""
    path = CASES / name
    if not path.is_dir():
        pytest.skip(f"the shared case {name} is not here ({path})")
    return path


def case_messages(name: str) -> list[tuple[str, str]]:
    """(sender, message) of the case's requests.json, in order."""
    requests = json.loads((case(name) / "requests.json").read_text())["requests"]
    return [(r["sender"], r["message"]) for r in requests]


def msg(intent: str, text: str | None = None, **entities) -> dict:
    """A Rasa-style parse; a list value gives one entity per item."""
    found = [{"entity": name, "value": v} for name, value in entities.items()
             for v in (value if isinstance(value, list) else [value])]
    return {"text": text if text is not None else f"({intent})", "intent": {"name": intent, "confidence": 0.95},
            "intent_ranking": [{"name": intent, "confidence": 0.95}], "entities": found}


def texts(replies: list[dict]) -> list[str | None]:
    return [r.get("text") for r in replies]


def joined(replies: list[dict]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


class KnowledgeStub:
    """Stands in for the store's knowledge (KnowledgeAnswerer.answer): answers every question."""

    def __init__(self):
        self.questions: list[str] = []

    async def answer(self, question, previous=None, on_text=None, context_sources=()) -> KnowledgeAnswer:
        self.questions.append(question)
        return KnowledgeAnswer(f"From our help pages: {question}", ["faq:stub"])


class ScriptedActions:
    """An ActionRunner whose actions are small functions: tracker -> (texts said, events returned)."""

    def __init__(self, **actions):
        self.actions = actions

    def has(self, action: str) -> bool:
        return action in self.actions

    async def run(self, call: dict) -> dict:
        said, events = self.actions[call["next_action"]](call["tracker"])
        return {"events": events, "responses": [{"text": t} for t in said]}

    async def close(self) -> None:
        pass


def project(tmp_path: Path, domain: str, rules: str = "", stories: str = "") -> tuple[Domain, PolicyEnsemble]:
    (tmp_path / "domain.yml").write_text(domain)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    if rules:
        (data / "rules.yml").write_text(rules)
    if stories:
        (data / "stories.yml").write_text(stories)
    loaded = Domain.load(tmp_path / "domain.yml")
    return loaded, load_policy(data, loaded)


def bot(tmp_path: Path, domain: str, rules: str = "", stories: str = "", actions=None, answerer=None) -> Dialogue:
    loaded, policy = project(tmp_path, domain, rules, stories)
    return Dialogue(loaded, policy, actions or ScriptedActions(), answerer or KnowledgeStub())


class Chat:
    """One conversation: each message is recorded as the pipeline records it (with its channel), and
    the turn's events are saved (through JSON, as Redis keeps them) before the next message."""

    def __init__(self, dialogue: Dialogue, sender: str = "s1", channel: str = "rest", interpreter=None):
        self.dialogue = dialogue
        self.session = Session(sender)
        self.channel = channel
        self.interpreter = interpreter

    async def say(self, message: dict | str) -> list[dict]:
        parse = message if isinstance(message, dict) else self.interpreter.parse(message)
        self.session.record({"event": "user", "text": parse.get("text", ""), "parse_data": parse,
                             "input_channel": self.channel, "metadata": {}})
        replies = await self.dialogue.respond(self.session, parse)
        self.session.history += [json.loads(json.dumps(e)) for e in self.session.new_events]
        self.session.new_events = []
        return replies

    @property
    def slots(self) -> dict:
        return self.session.slots


def start_actions_server(package: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    """`python -m rasa_sdk --actions <package>` run in `cwd`, on a free port: (process, webhook URL)."""
    port = free_port()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(cwd)}
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", package, "-p", str(port)], cwd=cwd,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}/webhook"


@pytest.fixture(scope="module")
def case_actions_server():
    """This file's custom actions (tests/bot/dialogue/case_actions) on a real Rasa action server."""
    proc, url = start_actions_server(CASE_ACTIONS, REPO)
    yield url
    stop_process(proc)


@pytest.fixture(params=["in-process", "action-server"])
async def case_actions(request):
    """The custom actions in this process, and on a real action server over HTTP."""
    if request.param == "in-process":
        yield InProcessActions(CASE_ACTIONS)
        return
    actions = RemoteActions(request.getfixturevalue("case_actions_server"))
    await actions.discover()
    yield actions
    await actions.close()


@pytest.fixture
def demo_store(base_config, tmp_path):
    """The demo store's records for its actions (in process), today pinned as in the other tests."""
    store_data.use(base_config, FileShop(DEMO_STORE_DIR, tmp_path / "store-changes.jsonl"), on=DEMO_TODAY)
    GUESSES.clear()
    yield
    store_data.use()


@pytest.fixture
def demo(models, demo_store) -> Dialogue:
    """The demo store's bot: its domain, rules, actions (in process) and knowledge."""
    return Dialogue(models.domain, models.policy, InProcessActions("actions"), models.answerer)


@pytest.fixture
async def demo_actions_down(models, demo_store):
    """The demo store's bot with its action server down (nothing listens on the port)."""
    actions = RemoteActions(f"http://127.0.0.1:{free_port()}/webhook", timeout_s=2)
    await actions.discover()
    yield Dialogue(models.domain, models.policy, actions, models.answerer)
    await actions.close()


# -- A01: a retrieval intent's response action (utter_faq) ------------------------------------------


def retrieval(base: str, sub: str, text: str, shape: str = "response_selector") -> dict:
    """A parse of a retrieval intent as Rasa's ResponseSelector gives it (`response_selector`), or with
    only the full intent name (`full_retrieval_intent_name`)."""
    parse = msg(base, text)
    if shape == "response_selector":
        parse["response_selector"] = {"all_retrieval_intents": [base], base: {
            "response": {"intent_response_key": f"{base}/{sub}", "utter_action": f"utter_{base}/{sub}",
                         "confidence": 0.9, "responses": []},
            "ranking": [{"intent_response_key": f"{base}/{sub}", "confidence": 0.9}]}}
    else:
        parse["intent"]["full_retrieval_intent_name"] = f"{base}/{sub}"
    return parse


async def test_a01_case_utter_faq_answers_each_sub_intent():
    path = case("A01")
    domain = Domain.load(path / "domain.yml")
    chat = Chat(Dialogue(domain, load_policy(path / "rules.yml", domain), ScriptedActions(), KnowledgeStub()))
    assert texts(await chat.say(retrieval("faq", "payment_methods", "how do I pay"))) == [
        "We accept all major credit cards, Apple Pay, Google Pay, and PayPal."]
    assert texts(await chat.say(retrieval("faq", "promotions", "what kind of deals do you have"))) == [
        "Buy one, get one half off this week."]


RETRIEVAL_DOMAIN = """version: "3.1"
intents: [greet, chitchat, faq]
responses:
  utter_greet:
  - text: Hello there.
  utter_chitchat/ask_name:
  - text: I'm Pip.
  utter_chitchat/ask_weather:
  - text: It's always sunny in here.
  utter_faq/opening_hours:
  - text: We're open nine to five.
  utter_faq/delivery:
  - text: Delivery takes two days.
    buttons:
    - title: Track a parcel
      payload: /track
"""
RETRIEVAL_RULES = """version: "3.1"
rules:
- rule: chitchat
  steps:
  - intent: chitchat
  - action: utter_chitchat
- rule: faq
  steps:
  - intent: faq
  - action: utter_faq
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
"""


@pytest.mark.parametrize("shape", ["response_selector", "full_retrieval_intent_name"])
async def test_a01_two_retrieval_actions_pick_the_messages_sub_response(tmp_path, shape):
    chat = Chat(bot(tmp_path, RETRIEVAL_DOMAIN, RETRIEVAL_RULES))
    assert texts(await chat.say(retrieval("chitchat", "ask_weather", "how's the weather", shape))) == [
        "It's always sunny in here."]
    assert texts(await chat.say(msg("greet"))) == ["Hello there."]
    delivery = await chat.say(retrieval("faq", "delivery", "when will it come", shape))
    assert delivery == [{"text": "Delivery takes two days.", "buttons": [{"title": "Track a parcel",
                                                                           "payload": "/track"}]}]
    assert texts(await chat.say(retrieval("chitchat", "ask_name", "who are you", shape))) == ["I'm Pip."]
    assert texts(await chat.say(retrieval("faq", "opening_hours", "when are you open", shape))) == [
        "We're open nine to five."]


async def test_a01_a_retrieval_action_in_a_story(tmp_path):
    stories = """version: "3.1"
stories:
- story: greeting, then a question
  steps:
  - intent: greet
  - action: utter_greet
  - intent: faq
  - action: utter_faq
"""
    domain, policy = project(tmp_path, RETRIEVAL_DOMAIN, stories=stories)
    chat = Chat(Dialogue(domain, policy, ScriptedActions(), KnowledgeStub()))
    await chat.say(msg("greet"))
    assert texts(await chat.say(retrieval("faq", "delivery", "delivery time?"))) == ["Delivery takes two days."]


@pytest.mark.integration
async def test_a01_case_retrieval_payloads_through_the_interpreter(models):
    path = case("A01")
    domain = Domain.load(path / "domain.yml")
    dialogue = Dialogue(domain, load_policy(path / "rules.yml", domain), ScriptedActions(), KnowledgeStub())
    chat = Chat(dialogue, interpreter=models.interpreter)
    assert texts(await chat.say("/faq/promotions")) == ["Buy one, get one half off this week."]
    assert texts(await chat.say("/faq/payment_methods")) == [
        "We accept all major credit cards, Apple Pay, Google Pay, and PayPal."]


def test_a01_a_retrieval_action_without_responses_is_named_in_the_error(tmp_path):
    with pytest.raises(RulesError, match="utter_faq"):
        project(tmp_path, 'version: "3.1"\nintents: [faq]\nresponses:\n  utter_hi:\n  - text: hi\n',
                'version: "3.1"\nrules:\n- rule: faq\n  steps:\n  - intent: faq\n  - action: utter_faq\n')


# -- A02: `or` steps ----------------------------------------------------------------------------------


async def test_a02_case_each_intent_of_the_or_triggers_the_rule():
    path = case("A02")
    domain = Domain.load(path / "domain.yml")
    dialogue = Dialogue(domain, load_policy(path / "rules.yml", domain), ScriptedActions(), KnowledgeStub())
    for intent in ("nlu_fallback", "out_of_scope"):
        assert texts(await Chat(dialogue, intent).say(msg(intent))) == ["Sorry, I didn't get that."]


OR_DOMAIN = """version: "3.1"
intents: [greet, thank, goodbye, bye, inform, out_of_scope]
entities: [tier]
slots:
  tier:
    type: categorical
    values: [gold, platinum, basic]
    mappings:
    - type: from_entity
      entity: tier
responses:
  utter_greet:
  - text: Hello!
  utter_bye:
  - text: Bye, see you soon.
  utter_vip:
  - text: Welcome to the members' lounge.
  utter_welcome:
  - text: Welcome aboard.
  utter_default:
  - text: Sorry, I didn't get that.
  utter_glad:
  - text: Glad to hear it.
"""
OR_RULES = """version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: any way of leaving, outside a form
  condition:
  - active_loop: null
  steps:
  - or:
    - intent: thank
    - intent: goodbye
    - intent: bye
  - action: utter_bye
- rule: out of scope or not understood
  steps:
  - or:
    - intent: nlu_fallback
    - intent: out_of_scope
  - action: utter_default
- rule: premium tiers
  steps:
  - intent: inform
  - or:
    - slot_was_set:
      - tier: gold
    - slot_was_set:
      - tier: platinum
  - action: utter_vip
- rule: basic tier
  steps:
  - intent: inform
  - slot_was_set:
    - tier: basic
  - action: utter_welcome
"""


@pytest.mark.parametrize("intent", ["thank", "goodbye", "bye"])
async def test_a02_an_or_of_three_intents(tmp_path, intent):
    dialogue = bot(tmp_path, OR_DOMAIN, OR_RULES)
    chat = Chat(dialogue)
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]
    assert texts(await chat.say(msg(intent))) == ["Bye, see you soon."]
    assert dialogue.plan(intent) == ["utter_bye"]


@pytest.mark.parametrize("tier, reply", [("gold", "Welcome to the members' lounge."),
                                         ("platinum", "Welcome to the members' lounge."),
                                         ("basic", "Welcome aboard.")])
async def test_a02_an_or_of_slot_was_set(tmp_path, tier, reply):
    chat = Chat(bot(tmp_path, OR_DOMAIN, OR_RULES))
    assert texts(await chat.say(msg("inform", f"I'm a {tier} member", tier=tier))) == [reply]


async def test_a02_an_or_in_a_story(tmp_path):
    stories = """version: "3.1"
stories:
- story: happy after greeting
  steps:
  - intent: greet
  - action: utter_greet
  - or:
    - intent: thank
    - intent: inform
  - action: utter_glad
"""
    domain, policy = project(tmp_path, OR_DOMAIN, stories=stories)
    for intent in ("thank", "inform"):
        chat = Chat(Dialogue(domain, policy, ScriptedActions(), KnowledgeStub()))
        await chat.say(msg("greet"))
        assert texts(await chat.say(msg(intent))) == ["Glad to hear it."]


# -- A04: interruption rules next to a form's submit rule ------------------------------------------


def no_contradictions(caplog) -> None:
    assert not [r for r in caplog.records if "contradict" in r.getMessage()], caplog.text


async def test_a04_case_the_form_submits_and_no_cancels(caplog):
    path = case("A04")
    domain = Domain.load(path / "domain.yml")
    with caplog.at_level(logging.WARNING):
        policy = load_policy(path / "rules.yml", domain)
    no_contradictions(caplog)
    dialogue = Dialogue(domain, policy, ScriptedActions(), KnowledgeStub())

    chat = Chat(dialogue, "m1")
    assert texts(await chat.say(msg("subscribe", "subscribe me to product updates"))) == [
        "What is your email address?"]
    assert texts(await chat.say(msg("inform", "a@b.com", email="a@b.com"))) == ["Alright, you're subscribed!"]
    assert chat.slots["email"] == "a@b.com" and chat.session.active_form is None

    chat = Chat(dialogue, "m2")
    await chat.say(msg("subscribe"))
    assert texts(await chat.say(msg("deny", "no"))) == ["Ok, let's start over."]
    assert chat.session.active_form is None
    assert texts(await chat.say(msg("subscribe"))) == ["What is your email address?"]


BOOKING_DOMAIN = """version: "3.1"
intents: [book, inform, bot_challenge, cancel, greet]
entities: [guests, day]
slots:
  guests:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: guests
  day:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: day
forms:
  booking_form:
    required_slots: [guests, day]
responses:
  utter_ask_guests:
  - text: For how many people?
  utter_ask_day:
  - text: Which day?
  utter_booked:
  - text: Booked a table for {guests} on {day}.
  utter_iamabot:
  - text: I'm a bot.
  utter_cancelled:
  - text: Booking cancelled.
  utter_greet:
  - text: Hello!
  utter_default:
  - text: Sorry?
"""
BOOKING_RULES = """version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: the booking form starts
  steps:
  - intent: book
  - action: booking_form
  - active_loop: booking_form
- rule: a question about the bot in the form
  condition:
  - active_loop: booking_form
  steps:
  - intent: bot_challenge
  - action: utter_iamabot
  - action: booking_form
  - active_loop: booking_form
- rule: cancel in the form
  condition:
  - active_loop: booking_form
  steps:
  - intent: cancel
  - action: action_deactivate_loop
  - active_loop: null
  - action: utter_cancelled
- rule: the booking form submits
  condition:
  - active_loop: booking_form
  steps:
  - action: booking_form
  - active_loop: null
  - action: utter_booked
"""


async def test_a04_an_interruption_that_continues_the_form_and_one_that_cancels(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        dialogue = bot(tmp_path, BOOKING_DOMAIN, BOOKING_RULES)
    no_contradictions(caplog)
    chat = Chat(dialogue)
    assert texts(await chat.say(msg("book"))) == ["For how many people?"]
    assert texts(await chat.say(msg("bot_challenge", "are you a bot?"))) == ["I'm a bot.", "For how many people?"]
    assert texts(await chat.say(msg("inform", "four of us", guests="4"))) == ["Which day?"]
    assert texts(await chat.say(msg("inform", "friday", day="friday"))) == ["Booked a table for 4 on friday."]
    assert chat.session.active_form is None

    chat = Chat(dialogue, "s2")
    await chat.say(msg("book"))
    assert texts(await chat.say(msg("inform", "two", guests="2"))) == ["Which day?"]
    assert texts(await chat.say(msg("cancel", "forget it"))) == ["Booking cancelled."]
    assert chat.session.active_form is None
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]


# -- A05: slot_was_set conditions of two submit rules for one form ---------------------------------


A05_DOMAIN = """version: "3.1"
intents: [order_status, inform]
entities: [order_id, rating]
slots:
  order_id:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: order_id
  rating:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: rating
  survey_complete:
    type: bool
    {initial}
    mappings:
    - type: custom
forms:
  order_status_form:
    required_slots: [order_id]
  survey_form:
    required_slots: [rating]
responses:
  utter_ask_order_id:
  - text: What is your order number?
  utter_ask_rating:
  - text: How would you rate us, 1 to 5?
actions: [action_order_status, action_finish_survey]
"""


A05_START = """version: "3.1"
rules:
- rule: start the order status form
  steps:
  - intent: order_status
  - action: order_status_form
  - active_loop: order_status_form
- rule: submit the survey
  condition:
  - active_loop: survey_form
  steps:
  - action: survey_form
  - active_loop: null
  - action: action_finish_survey
"""


def order_status(tracker):
    said = f"Order {tracker['slots']['order_id']} has shipped."
    return [said], [{"event": "slot", "name": "order_id", "value": None}]


def finish_survey(tracker):
    return ["Thanks!"], [{"event": "slot", "name": "survey_complete", "value": True}]


async def test_a05_case_the_submit_rule_with_the_matching_condition(tmp_path, caplog):
    """The case's two submit rules, and two of this test's own: one starting the form, one
    submitting the survey (whose action sets survey_complete)."""
    (tmp_path / "start.yml").write_text(A05_START)
    (tmp_path / "domain.yml").write_text(A05_DOMAIN.format(initial=""))
    domain = Domain.load(tmp_path / "domain.yml")
    with caplog.at_level(logging.WARNING):
        policy = load_policy([case("A05") / "rules.yml", tmp_path / "start.yml"], domain)
    no_contradictions(caplog)
    actions = ScriptedActions(action_order_status=order_status, action_finish_survey=finish_survey)
    chat = Chat(Dialogue(domain, policy, actions, KnowledgeStub()))
    assert texts(await chat.say(msg("order_status"))) == ["What is your order number?"]
    assert texts(await chat.say(msg("inform", "SK-1", order_id="SK-1"))) == [
        "Order SK-1 has shipped.", "How would you rate us, 1 to 5?"]
    assert texts(await chat.say(msg("inform", "5", rating="5"))) == ["Thanks!"]
    assert texts(await chat.say(msg("order_status"))) == ["What is your order number?"]
    assert texts(await chat.say(msg("inform", "SK-2", order_id="SK-2"))) == ["Order SK-2 has shipped."]
    assert chat.session.active_form is None


async def test_a05_case_with_survey_complete_as_an_initial_value(tmp_path, caplog):
    (tmp_path / "start.yml").write_text(A05_START)
    (tmp_path / "domain.yml").write_text(A05_DOMAIN.format(initial="initial_value: true"))
    domain = Domain.load(tmp_path / "domain.yml")
    with caplog.at_level(logging.WARNING):
        policy = load_policy([case("A05") / "rules.yml", tmp_path / "start.yml"], domain)
    no_contradictions(caplog)
    chat = Chat(Dialogue(domain, policy, ScriptedActions(action_order_status=order_status), KnowledgeStub()))
    await chat.say(msg("order_status"))
    assert texts(await chat.say(msg("inform", "SK-3", order_id="SK-3"))) == ["Order SK-3 has shipped."]
    assert chat.session.active_form is None


INITIAL_DOMAIN = """version: "3.1"
intents: [greet, inform]
entities: [tier]
slots:
  tier:
    type: categorical
    values: [basic, gold]
    initial_value: basic
    mappings:
    - type: from_entity
      entity: tier
responses:
  utter_greet:
  - text: Hello!
  utter_noted:
  - text: Noted.
  utter_default:
  - text: Sorry?
"""
INITIAL_RULES = """version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: inform
  steps:
  - intent: inform
  - action: utter_noted
"""


async def test_a05_a_rule_without_slot_conditions_ignores_a_slot_with_an_initial_value(tmp_path):
    chat = Chat(bot(tmp_path, INITIAL_DOMAIN, INITIAL_RULES))
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]
    assert texts(await chat.say(msg("inform", "I'm gold", tier="gold"))) == ["Noted."]
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]


TRACK_DOMAIN = """version: "3.1"
intents: [track, inform]
entities: [order_ref, rating]
slots:
  order_ref:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: order_ref
  rating:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: rating
  survey_done:
    type: bool
    mappings:
    - type: custom
forms:
  track_form:
    required_slots: [order_ref]
  rating_form:
    required_slots: [rating]
responses:
  utter_ask_order_ref:
  - text: Which order?
  utter_ask_rating:
  - text: How would you rate us?
actions: [action_case_lookup, action_case_finish_survey]
"""
TRACK_RULES = """version: "3.1"
rules:
- rule: track
  steps:
  - intent: track
  - action: track_form
  - active_loop: track_form
- rule: submit, survey done
  condition:
  - active_loop: track_form
  - slot_was_set:
    - survey_done: true
  steps:
  - action: track_form
  - active_loop: null
  - action: action_case_lookup
- rule: submit, survey wanted
  condition:
  - active_loop: track_form
  steps:
  - action: track_form
  - active_loop: null
  - action: action_case_lookup
  - action: rating_form
  - active_loop: rating_form
- rule: submit the rating
  condition:
  - active_loop: rating_form
  steps:
  - action: rating_form
  - active_loop: null
  - action: action_case_finish_survey
"""


async def test_a05_the_survey_is_asked_until_it_is_answered(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        dialogue = bot(tmp_path, TRACK_DOMAIN, TRACK_RULES, actions=InProcessActions(CASE_ACTIONS))
    no_contradictions(caplog)
    chat = Chat(dialogue)
    assert texts(await chat.say(msg("track"))) == ["Which order?"]
    assert texts(await chat.say(msg("inform", "SK-7", order_ref="SK-7"))) == ["Order SK-7 is on its way.",
                                                                             "How would you rate us?"]
    assert texts(await chat.say(msg("inform", "5", rating="5"))) == ["Thanks for rating us!"]
    assert chat.slots["survey_done"] is True
    assert texts(await chat.say(msg("track"))) == ["Which order?"]
    assert texts(await chat.say(msg("inform", "SK-8", order_ref="SK-8"))) == ["Order SK-8 is on its way."]
    assert chat.session.active_form is None


TIER_DOMAIN = """version: "3.1"
intents: [join, inform]
entities: [tier, email]
slots:
  tier:
    type: categorical
    values: [gold, silver]
    mappings:
    - type: from_entity
      entity: tier
  email:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: email
forms:
  join_form:
    required_slots: [email]
responses:
  utter_ask_email:
  - text: Your e-mail address?
  utter_gold_perk:
  - text: Gold members get free delivery.
  utter_silver_perk:
  - text: Silver members get 5% off.
  utter_joined:
  - text: You're in.
"""
TIER_RULES = """version: "3.1"
rules:
- rule: join
  steps:
  - intent: join
  - action: join_form
  - active_loop: join_form
- rule: joined, gold
  condition:
  - active_loop: join_form
  - slot_was_set:
    - tier: gold
  steps:
  - action: join_form
  - active_loop: null
  - action: utter_gold_perk
- rule: joined, silver
  condition:
  - active_loop: join_form
  - slot_was_set:
    - tier: silver
  steps:
  - action: join_form
  - active_loop: null
  - action: utter_silver_perk
- rule: joined
  condition:
  - active_loop: join_form
  steps:
  - action: join_form
  - active_loop: null
  - action: utter_joined
"""


@pytest.mark.parametrize("tier, reply", [("gold", "Gold members get free delivery."),
                                         ("silver", "Silver members get 5% off."),
                                         (None, "You're in.")])
async def test_a05_three_submit_rules_told_apart_by_a_categorical_slot(tmp_path, caplog, tier, reply):
    with caplog.at_level(logging.WARNING):
        chat = Chat(bot(tmp_path, TIER_DOMAIN, TIER_RULES))
    no_contradictions(caplog)
    join = msg("join", "sign me up", tier=tier) if tier else msg("join", "sign me up")
    assert texts(await chat.say(join)) == ["Your e-mail address?"]
    assert texts(await chat.say(msg("inform", "a@b.c", email="a@b.c"))) == [reply]


# -- A09: utter_message(response=..., **kwargs) ----------------------------------------------------


@pytest.fixture
async def case_package_actions(request):
    """The case folder's own actions_pkg on a real action server (as case.md runs it)."""
    path = case(request.param)
    proc, url = start_actions_server("actions_pkg", path)
    actions = RemoteActions(url)
    await actions.discover()
    yield path, actions
    await actions.close()
    stop_process(proc)


@pytest.mark.integration
@pytest.mark.parametrize("case_package_actions", ["A09"], indirect=True)
async def test_a09_case_the_keyword_arguments_and_the_slots_fill_the_template(case_package_actions):
    path, actions = case_package_actions
    domain = Domain.load(path / "domain.yml")
    chat = Chat(Dialogue(domain, load_policy(path / "rules.yml", domain), actions, KnowledgeStub()), "m3")
    await chat.say(msg("inform", "my email is a@b.com", email="a@b.com"))
    assert texts(await chat.say(msg("order_status", "where is my order"))) == [
        "Your order for a@b.com is currently shipped."]


KWARGS_DOMAIN = """version: "3.1"
intents: [balance, status, status_legacy, partial, pick, inform]
entities: [order_id]
slots:
  order_id:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: order_id
  status:
    type: text
    influence_conversation: false
    initial_value: pending
    mappings:
    - type: custom
responses:
  utter_case_balance:
  - text: "Your bank account balance is {currency}{init_account_balance}."
  utter_case_status:
  - text: "Order {order_id} is {status}."
  utter_case_partial:
  - text: "Hi {customer_name}, order {order_id} is {status}."
  utter_case_pick:
  - text: "Pick one of these {count} sizes."
    buttons:
    - title: Small
      payload: '/pick{"size": "S"}'
    - title: Large
      payload: '/pick{"size": "L"}'
  utter_noted:
  - text: Noted.
actions: [action_case_balance, action_case_status, action_case_status_legacy, action_case_partial,
          action_case_buttons]
"""
KWARGS_RULES = """version: "3.1"
rules:
- rule: balance
  steps:
  - intent: balance
  - action: action_case_balance
- rule: status
  steps:
  - intent: status
  - action: action_case_status
- rule: status, the old spelling
  steps:
  - intent: status_legacy
  - action: action_case_status_legacy
- rule: partial
  steps:
  - intent: partial
  - action: action_case_partial
- rule: pick
  steps:
  - intent: pick
  - action: action_case_buttons
- rule: inform
  steps:
  - intent: inform
  - action: utter_noted
"""


@pytest.mark.integration
async def test_a09_keyword_arguments_fill_templates(tmp_path, case_actions):
    chat = Chat(bot(tmp_path, KWARGS_DOMAIN, KWARGS_RULES, actions=case_actions))
    assert texts(await chat.say(msg("balance"))) == ["Your bank account balance is $120.5."]
    assert texts(await chat.say(msg("inform", "SK-1004", order_id="SK-1004"))) == ["Noted."]
    # an argument named like a slot wins over the slot's value ("pending")
    assert texts(await chat.say(msg("status"))) == ["Order SK-1004 is delivered."]
    assert texts(await chat.say(msg("status_legacy"))) == ["Order SK-1004 is packed."]
    assert await chat.say(msg("pick")) == [{"text": "Pick one of these 2 sizes.", "buttons": [
        {"title": "Small", "payload": '/pick{"size": "S"}'}, {"title": "Large", "payload": '/pick{"size": "L"}'}]}]


@pytest.mark.integration
async def test_a09_a_missing_placeholder_leaves_only_itself(tmp_path, case_actions):
    chat = Chat(bot(tmp_path, KWARGS_DOMAIN, KWARGS_RULES, actions=case_actions))
    await chat.say(msg("inform", "SK-1004", order_id="SK-1004"))
    assert texts(await chat.say(msg("partial"))) == ["Hi {customer_name}, order SK-1004 is on its way."]


def test_a09_render_fills_what_it_can():
    domain = Domain({"responses": {"utter_x": [{"text": "Dear {name}, {item} ships {when}; {name}, thanks!"}]}})
    assert domain.render("utter_x", {"item": "the lamp"}, fill={"when": "today"})[0]["text"] == \
        "Dear {name}, the lamp ships today; {name}, thanks!"


# -- A11: BotUttered events from a custom action -------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("case_package_actions", ["A11"], indirect=True)
async def test_a11_case_the_bot_uttered_event_is_sent(case_package_actions):
    path, actions = case_package_actions
    domain = Domain.load(path / "domain.yml")
    chat = Chat(Dialogue(domain, load_policy(path / "rules.yml", domain), actions, KnowledgeStub()), "m2")
    replies = await chat.say(msg("whats_your_name", "what's your name?"))
    assert texts(replies) == ["My name is Shopbot."]
    assert set(replies[0]) <= set(MESSAGE_KEYS)


UTTERED_DOMAIN = """version: "3.1"
intents: [ask_name, ask_size, ask_stock, ask_card]
actions: [action_case_give_name, action_case_offer_sizes, action_case_two_ways, action_case_card]
"""
UTTERED_RULES = """version: "3.1"
rules:
- rule: name
  steps:
  - intent: ask_name
  - action: action_case_give_name
- rule: sizes
  steps:
  - intent: ask_size
  - action: action_case_offer_sizes
- rule: stock
  steps:
  - intent: ask_stock
  - action: action_case_two_ways
- rule: card
  steps:
  - intent: ask_card
  - action: action_case_card
"""


@pytest.mark.integration
async def test_a11_bot_uttered_events_are_sent_like_any_message(tmp_path, case_actions):
    chat = Chat(bot(tmp_path, UTTERED_DOMAIN, UTTERED_RULES, actions=case_actions))
    assert texts(await chat.say(msg("ask_name"))) == ["I'm Pip, the shop's assistant."]
    assert await chat.say(msg("ask_size")) == [{"text": "Which size?", "buttons": [
        {"title": "Small", "payload": '/choose{"size": "S"}'}, {"title": "Large", "payload": '/choose{"size": "L"}'}]}]
    assert texts(await chat.say(msg("ask_stock"))) == ["Checking the stock...", "All sizes are in stock."]
    assert await chat.say(msg("ask_card")) == [{"custom": {"card": "gift", "amount": 25}}]
    said = [e.get("text") for e in chat.session.history if e.get("event") == "bot"]
    assert said.count("I'm Pip, the shop's assistant.") == 1  # recorded once, as it was said once


# -- A12: from_text, from_intent and from_trigger_intent slot mappings ---------------------------


async def test_a12_case_the_incident_form_completes():
    path = case("A12")
    domain = Domain.load(path / "domain.yml")
    chat = Chat(Dialogue(domain, load_policy(path / "rules.yml", domain), ScriptedActions(), KnowledgeStub()), "h2")
    assert texts(await chat.say(msg("password_reset", "I need to reset my password"))) == [
        "What is your email address?"]
    assert texts(await chat.say(msg("inform", "jane.doe@example.com", email="jane.doe@example.com"))) == [
        "What is the problem description for the issue?"]
    problem = "I forgot it after the holidays and now I am locked out"
    assert texts(await chat.say(msg("nlu_fallback", problem))) == [
        "Should I open an incident for jane.doe@example.com titled 'Problem resetting password'?"]
    assert texts(await chat.say(msg("affirm", "yes"))) == ["Incident opened."]
    assert chat.slots["problem_description"] == problem
    assert chat.slots["incident_title"] == "Problem resetting password"
    assert chat.slots["confirm"] is True
    assert chat.session.active_form is None


FEEDBACK_DOMAIN = """version: "3.1"
intents: [complain, praise, inform, affirm, deny, greet, drop_it]
slots:
  topic:
    type: text
    mappings:
    - type: from_trigger_intent
      intent: complain
      value: complaint
      conditions:
      - active_loop: feedback_form
    - type: from_trigger_intent
      intent: [praise]
      value: praise
      conditions:
      - active_loop: feedback_form
  details:
    type: text
    mappings:
    - type: from_text
      not_intent: [drop_it]
      conditions:
      - active_loop: feedback_form
        requested_slot: details
  contact_name:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: feedback_form
        requested_slot: contact_name
  wants_reply:
    type: bool
    mappings:
    - type: from_intent
      intent: affirm
      value: true
      conditions:
      - active_loop: feedback_form
        requested_slot: wants_reply
    - type: from_intent
      intent: [deny]
      value: false
      conditions:
      - active_loop: feedback_form
        requested_slot: wants_reply
forms:
  feedback_form:
    required_slots: [topic, details, contact_name, wants_reply]
responses:
  utter_ask_topic:
  - text: Is it a complaint or praise?
  utter_ask_details:
  - text: Tell me more.
  utter_ask_contact_name:
  - text: What is your name?
  utter_ask_wants_reply:
  - text: Shall we reply, {contact_name}?
  utter_feedback_saved:
  - text: "Saved your {topic}: {details}"
  utter_feedback_dropped:
  - text: Feedback dropped.
  utter_greet:
  - text: Hello!
  utter_default:
  - text: Sorry?
"""
FEEDBACK_RULES = """version: "3.1"
rules:
- rule: a complaint starts the form
  steps:
  - intent: complain
  - action: feedback_form
  - active_loop: feedback_form
- rule: praise starts the form
  steps:
  - intent: praise
  - action: feedback_form
  - active_loop: feedback_form
- rule: submit
  condition:
  - active_loop: feedback_form
  steps:
  - action: feedback_form
  - active_loop: null
  - action: utter_feedback_saved
- rule: drop it
  condition:
  - active_loop: feedback_form
  steps:
  - intent: drop_it
  - action: action_deactivate_loop
  - active_loop: null
  - action: utter_feedback_dropped
- rule: greet
  condition:
  - active_loop: null
  steps:
  - intent: greet
  - action: utter_greet
"""


async def test_a12_a_form_filled_by_trigger_intent_text_and_intents(tmp_path):
    chat = Chat(bot(tmp_path, FEEDBACK_DOMAIN, FEEDBACK_RULES))
    assert texts(await chat.say(msg("complain", "I want to complain"))) == ["Tell me more."]
    # from_text takes the text whatever the intent (here a misread greeting)
    assert texts(await chat.say(msg("greet", "Hi, the parcel arrived wet"))) == ["What is your name?"]
    # the name question is asked once; only the requested from_text slot is filled
    assert texts(await chat.say(msg("inform", "Sarah"))) == ["Shall we reply, Sarah?"]
    assert chat.slots["details"] == "Hi, the parcel arrived wet"
    assert texts(await chat.say(msg("deny", "no thanks"))) == ["Saved your complaint: Hi, the parcel arrived wet"]
    assert chat.slots["wants_reply"] is False and chat.session.active_form is None


async def test_a12_another_trigger_intent_and_affirm(tmp_path):
    chat = Chat(bot(tmp_path, FEEDBACK_DOMAIN, FEEDBACK_RULES))
    assert texts(await chat.say(msg("praise", "you were great"))) == ["Tell me more."]
    await chat.say(msg("inform", "Fast delivery"))
    await chat.say(msg("inform", "Tom"))
    assert texts(await chat.say(msg("affirm", "yes please"))) == ["Saved your praise: Fast delivery"]
    assert chat.slots["wants_reply"] is True


async def test_a12_not_intent_and_conditions_keep_slots_empty(tmp_path):
    chat = Chat(bot(tmp_path, FEEDBACK_DOMAIN, FEEDBACK_RULES))
    # outside the form, neither from_text nor from_intent with conditions fills anything
    assert texts(await chat.say(msg("greet", "hello"))) == ["Hello!"]
    await chat.say(msg("affirm", "yes"))
    assert chat.slots.get("details") is None and chat.slots.get("contact_name") is None
    assert chat.slots.get("wants_reply") is None
    await chat.say(msg("complain"))
    # not_intent: "drop it" is not taken as the details
    assert texts(await chat.say(msg("drop_it", "forget it"))) == ["Feedback dropped."]
    assert chat.slots.get("details") is None and chat.session.active_form is None


CALLBACK_DOMAIN = """version: "3.1"
intents: [call_me, inform, greet]
slots:
  acknowledged:
    type: text
    mappings:
    - type: from_intent
      value: "yes"
      conditions:
      - active_loop: callback_form
        requested_slot: acknowledged
forms:
  callback_form:
    required_slots: [acknowledged]
responses:
  utter_ask_acknowledged:
  - text: We'll call you within a day. OK?
  utter_calling:
  - text: Noted, talk soon.
"""
CALLBACK_RULES = """version: "3.1"
rules:
- rule: call me
  steps:
  - intent: call_me
  - action: callback_form
  - active_loop: callback_form
- rule: submit
  condition:
  - active_loop: callback_form
  steps:
  - action: callback_form
  - active_loop: null
  - action: utter_calling
"""


async def test_a12_from_intent_without_an_intent_list_takes_any_intent(tmp_path):
    """Rasa's SlotMapping.intent_is_desired: no `intent` list means every intent (less `not_intent`)."""
    chat = Chat(bot(tmp_path, CALLBACK_DOMAIN, CALLBACK_RULES))
    assert texts(await chat.say(msg("call_me"))) == ["We'll call you within a day. OK?"]
    assert texts(await chat.say(msg("greet", "alright"))) == ["Noted, talk soon."]
    assert chat.slots["acknowledged"] == "yes"


# -- A14: intent payloads from buttons, /intent{"entity": "value"} ---------------------------------


@pytest.mark.parametrize("text, intent, entities", [
    ('/inform{"priority":"high"}', "inform", [("priority", "high")]),
    ("/greet", "greet", []),
    ('  /choose{"size": "M", "colour": "red"}  ', "choose", [("size", "M"), ("colour", "red")]),
    ('/order{"topping": ["ham", "cheese"]}', "order", [("topping", "ham"), ("topping", "cheese")]),
    ("/faq/returns", "faq/returns", []),
])
def test_a14_payloads_are_read_not_classified(text, intent, entities):
    parse = parse_payload(text)
    assert parse["intent"] == {"name": intent, "confidence": 1.0}
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == entities


@pytest.mark.integration
def test_a14_case_the_interpreter_reads_the_cases_payloads(models):
    payloads = [m for _, m in case_messages("A14") if m.startswith("/")]
    assert payloads == ['/inform{"priority":"high"}', "/greet"]
    high = models.interpreter.parse(payloads[0])
    assert high["intent"]["name"] == "inform" and high["intent"]["confidence"] == 1.0
    assert [(e["entity"], e["value"]) for e in high["entities"]] == [("priority", "high")]
    assert models.interpreter.parse(payloads[1])["intent"] == {"name": "greet", "confidence": 1.0}


@pytest.mark.integration
async def test_a14_case_the_priority_button_fills_the_helpdesk_form(tmp_path, models):
    (sender, reset), (_, email), (_, button) = case_messages("A14")[:3]
    chat = Chat(bot(tmp_path, HELPDESK_DOMAIN, HELPDESK_RULES), sender, interpreter=models.interpreter)
    await chat.say(msg("password_reset", reset))
    await chat.say(msg("inform", email, email=email))
    assert texts(await chat.say(button)) == ["Open a high priority incident for jane.doe@example.com?"]


@pytest.mark.integration
async def test_a14_case_greet_payload_greets_in_the_demo(demo, models):
    chat = Chat(demo, "r7", interpreter=models.interpreter)
    assert "Maple & Pine assistant" in joined(await chat.say("/greet"))


HELPDESK_DOMAIN = """version: "3.1"
intents: [password_reset, inform, affirm, deny, choose, order]
entities: [email, priority, size, colour, topping]
slots:
  email:
    type: text
    mappings:
    - type: from_entity
      entity: email
  priority:
    type: categorical
    values: [low, medium, high]
    mappings:
    - type: from_entity
      entity: priority
  confirm:
    type: bool
    mappings:
    - type: from_intent
      intent: affirm
      value: true
      conditions:
      - active_loop: incident_form
        requested_slot: confirm
    - type: from_intent
      intent: deny
      value: false
      conditions:
      - active_loop: incident_form
        requested_slot: confirm
  size:
    type: text
    mappings:
    - type: from_entity
      entity: size
  colour:
    type: text
    mappings:
    - type: from_entity
      entity: colour
  toppings:
    type: list
    mappings:
    - type: from_entity
      entity: topping
forms:
  incident_form:
    required_slots: [email, priority, confirm]
  shirt_form:
    required_slots: [size, colour]
  pizza_form:
    required_slots: [toppings]
responses:
  utter_ask_email:
  - text: What is your email address?
  utter_ask_priority:
  - text: What priority should this issue have?
    buttons:
    - title: low
      payload: '/inform{"priority":"low"}'
    - title: medium
      payload: '/inform{"priority":"medium"}'
    - title: high
      payload: '/inform{"priority":"high"}'
  utter_ask_confirm:
  - text: Open a {priority} priority incident for {email}?
    buttons:
    - title: "Yes"
      payload: /affirm
    - title: "No"
      payload: /deny
  utter_incident_opened:
  - text: Incident opened.
  utter_ask_size:
  - text: Which size?
  utter_ask_colour:
  - text: Which colour?
  utter_shirt:
  - text: One {colour} shirt in {size}.
  utter_ask_toppings:
  - text: Which toppings?
  utter_pizza:
  - text: Pizza ordered.
"""
HELPDESK_RULES = """version: "3.1"
rules:
- rule: reset
  steps:
  - intent: password_reset
  - action: incident_form
  - active_loop: incident_form
- rule: submit
  condition:
  - active_loop: incident_form
  steps:
  - action: incident_form
  - active_loop: null
  - action: utter_incident_opened
- rule: shirt
  steps:
  - intent: choose
  - action: shirt_form
  - active_loop: shirt_form
- rule: shirt chosen
  condition:
  - active_loop: shirt_form
  steps:
  - action: shirt_form
  - active_loop: null
  - action: utter_shirt
- rule: pizza
  steps:
  - intent: order
  - action: pizza_form
  - active_loop: pizza_form
- rule: pizza chosen
  condition:
  - active_loop: pizza_form
  steps:
  - action: pizza_form
  - active_loop: null
  - action: utter_pizza
"""


async def test_a14_clicking_the_buttons_fills_the_form(tmp_path):
    chat = Chat(bot(tmp_path, HELPDESK_DOMAIN, HELPDESK_RULES), "h1")
    await chat.say(msg("password_reset", "I need to reset my password"))
    asked = await chat.say(msg("inform", "jane.doe@example.com", email="jane.doe@example.com"))
    assert texts(asked) == ["What priority should this issue have?"]
    high = next(b["payload"] for b in asked[0]["buttons"] if b["title"] == "high")
    confirm = await chat.say(parse_payload(high))
    assert texts(confirm) == ["Open a high priority incident for jane.doe@example.com?"]
    assert chat.slots["priority"] == "high"
    yes = next(b["payload"] for b in confirm[0]["buttons"] if b["title"] == "Yes")
    assert texts(await chat.say(parse_payload(yes))) == ["Incident opened."]


async def test_a14_payloads_with_several_entities_and_lists(tmp_path):
    dialogue = bot(tmp_path, HELPDESK_DOMAIN, HELPDESK_RULES)
    chat = Chat(dialogue)
    assert texts(await chat.say(parse_payload('/choose{"size": "M", "colour": "red"}'))) == ["One red shirt in M."]
    chat = Chat(dialogue, "s2")
    assert texts(await chat.say(parse_payload("/choose"))) == ["Which size?"]
    assert texts(await chat.say(parse_payload('/inform{"size": "L"}'))) == ["Which colour?"]
    assert texts(await chat.say(parse_payload('/inform{"colour": "blue"}'))) == ["One blue shirt in L."]
    chat = Chat(dialogue, "s3")
    assert texts(await chat.say(parse_payload('/order{"topping": ["ham", "cheese"]}'))) == ["Pizza ordered."]
    assert chat.slots["toppings"] == ["ham", "cheese"]


# -- A15: ways out of a form ----------------------------------------------------------------------


SURVEY_DOMAIN = """version: "3.1"
intents: [rate_us, inform, cancel, affirm, deny, greet, bye]
entities: [number]
slots:
  rating:
    type: float
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: number
forms:
  survey_form:
    required_slots: [rating]
responses:
  utter_ask_rating:
  - text: How would you rate us, 1 to 5?
  utter_ask_continue:
  - text: Do you want to finish the survey?
  utter_survey_stopped:
  - text: OK, no survey then.
  utter_thanks:
  - text: Thanks for rating us {rating}.
  utter_greet:
  - text: Hello!
  utter_restart:
  - text: Starting over.
  utter_default:
  - text: Sorry?
"""
SURVEY_RULES = """version: "3.1"
rules:
- rule: survey
  steps:
  - intent: rate_us
  - action: survey_form
  - active_loop: survey_form
- rule: survey done
  condition:
  - active_loop: survey_form
  steps:
  - action: survey_form
  - active_loop: null
  - action: utter_thanks
- rule: greet
  condition:
  - active_loop: null
  steps:
  - intent: greet
  - action: utter_greet
"""
SURVEY_STORIES = """version: "3.1"
stories:
- story: the shopper stops the survey
  steps:
  - intent: rate_us
  - action: survey_form
  - active_loop: survey_form
  - intent: cancel
  - action: utter_ask_continue
  - intent: deny
  - action: action_deactivate_loop
  - active_loop: null
  - action: utter_survey_stopped
- story: the shopper carries on with the survey
  steps:
  - intent: rate_us
  - action: survey_form
  - active_loop: survey_form
  - intent: cancel
  - action: utter_ask_continue
  - intent: affirm
  - action: survey_form
  - active_loop: survey_form
"""


async def test_a15_a_deny_story_ends_the_form(tmp_path):
    chat = Chat(bot(tmp_path, SURVEY_DOMAIN, SURVEY_RULES, SURVEY_STORIES))
    assert texts(await chat.say(msg("rate_us"))) == ["How would you rate us, 1 to 5?"]
    assert texts(await chat.say(msg("cancel", "stop asking"))) == ["Do you want to finish the survey?"]
    assert texts(await chat.say(msg("deny", "no"))) == ["OK, no survey then."]
    assert chat.session.active_form is None
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]


async def test_a15_the_story_that_carries_on(tmp_path):
    chat = Chat(bot(tmp_path, SURVEY_DOMAIN, SURVEY_RULES, SURVEY_STORIES))
    await chat.say(msg("rate_us"))
    await chat.say(msg("cancel", "stop asking"))
    assert texts(await chat.say(msg("affirm", "yes"))) == ["How would you rate us, 1 to 5?"]
    assert texts(await chat.say(msg("inform", "4", number=4))) == ["Thanks for rating us 4."]


@pytest.mark.parametrize("payload", ["/restart", " /restart "])
async def test_a15_restart_payload_leaves_a_form_in_a_domain_without_a_restart_intent(tmp_path, payload):
    chat = Chat(bot(tmp_path, SURVEY_DOMAIN, SURVEY_RULES))
    await chat.say(msg("rate_us"))
    assert texts(await chat.say(msg("bye", "bye")))[0] == "Sorry?"
    assert chat.session.active_form == "survey_form"
    assert texts(await chat.say(parse_payload(payload))) == ["Starting over."]
    assert chat.session.active_form is None and not any(chat.slots.values())
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]


async def test_a15_no_without_a_rule_ends_the_form(tmp_path):
    """A project without a `stop` intent or a deny rule: "no" still ends the form (shopkeep's way out)."""
    chat = Chat(bot(tmp_path, SURVEY_DOMAIN, SURVEY_RULES))
    await chat.say(msg("rate_us"))
    replies = await chat.say(msg("deny", "no"))
    assert replies and "How would you rate us, 1 to 5?" not in texts(replies)
    assert chat.session.active_form is None
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]


@pytest.mark.integration
async def test_a15_case_restart_payloads_parse_and_leave_the_demos_form(demo, models):
    restart = [m for _, m in case_messages("A15") if m.startswith("/")]
    assert restart == ["/restart"]
    assert models.interpreter.parse(restart[0])["intent"] == {"name": "restart", "confidence": 1.0}
    chat = Chat(demo, "h1", interpreter=models.interpreter)
    assert "order number" in joined(await chat.say("where is my order"))
    await chat.say(restart[0])
    assert chat.session.active_form is None
    answer = joined(await chat.say("how long does shipping take?"))
    assert "business days" in answer and "order number" not in answer


# -- A19: Rasa's default actions in rules ----------------------------------------------------------


@pytest.mark.parametrize("action", sorted(set(DEFAULT_ACTIONS) - {"action_listen"}))
def test_a19_every_default_action_is_known_in_a_rule(tmp_path, action):
    project(tmp_path, 'version: "3.1"\nintents: [probe]\n',
            f'version: "3.1"\nrules:\n- rule: probe\n  steps:\n  - intent: probe\n  - action: {action}\n')


def test_a19_case_rules_load_with_a_default_action(tmp_path):
    (tmp_path / "domain.yml").write_text('version: "3.1"\nintents: [stop]\n')
    load_policy(case("A19") / "rules.yml", Domain.load(tmp_path / "domain.yml"))


DEFAULTS_DOMAIN = """version: "3.1"
intents: [start_over, out_of_scope, go_back, inform, greet, book, never_mind]
entities: [guests]
slots:
  guests:
    type: text
    mappings:
    - type: from_entity
      entity: guests
forms:
  booking_form:
    required_slots: [guests]
responses:
  utter_restart:
  - text: Starting over.
  utter_default:
  - text: Sorry, I didn't get that.
  utter_back:
  - text: Going back.
  utter_greet:
  - text: Hello!
  utter_noted:
  - text: Noted.
  utter_ask_guests:
  - text: For how many?
  utter_booked:
  - text: Booked.
  utter_dropped:
  - text: Booking dropped.
"""
DEFAULTS_RULES = """version: "3.1"
rules:
- rule: start over
  steps:
  - intent: start_over
  - action: action_restart
- rule: out of scope
  steps:
  - intent: out_of_scope
  - action: action_default_fallback
- rule: back
  steps:
  - intent: go_back
  - action: action_back
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: inform
  condition:
  - active_loop: null
  steps:
  - intent: inform
  - action: utter_noted
- rule: book
  steps:
  - intent: book
  - action: booking_form
  - active_loop: booking_form
- rule: booked
  condition:
  - active_loop: booking_form
  steps:
  - action: booking_form
  - active_loop: null
  - action: utter_booked
- rule: never mind
  condition:
  - active_loop: booking_form
  steps:
  - intent: never_mind
  - action: action_deactivate_loop
  - active_loop: null
  - action: utter_dropped
"""


async def test_a19_default_actions_do_what_rasa_does(tmp_path):
    chat = Chat(bot(tmp_path, DEFAULTS_DOMAIN, DEFAULTS_RULES))
    assert texts(await chat.say(msg("inform", "two", guests="2"))) == ["Noted."]
    assert texts(await chat.say(msg("start_over"))) == ["Starting over."]
    assert chat.slots.get("guests") is None
    assert texts(await chat.say(msg("out_of_scope", "what's the meaning of life"))) == ["Sorry, I didn't get that."]
    assert texts(await chat.say(msg("go_back", "back"))) == ["Going back."]
    assert texts(await chat.say(msg("book"))) == ["For how many?"]
    assert texts(await chat.say(msg("never_mind", "never mind"))) == ["Booking dropped."]
    assert chat.session.active_form is None
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]


# -- A20: several rules for one intent ----------------------------------------------------------------


GREET_DOMAIN = """version: "3.1"
intents: [greet, ask_price, help, inform, book, join]
entities: [guests]
slots:
  member:
    type: bool
    mappings:
    - type: from_intent
      intent: join
      value: true
  guests:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: guests
forms:
  booking_form:
    required_slots: [guests]
responses:
  utter_greet:
  - text: Hi!
  utter_welcome_new:
  - text: Welcome! First time here?
  utter_welcome_back:
  - text: Welcome back!
  utter_offer:
  - text: Can I help you find something?
  utter_price:
  - text: It's 20 dollars.
  utter_member_price:
  - text: For members it's 15 dollars.
  utter_joined:
  - text: You're a member now.
  utter_help:
  - text: I can answer questions and book tables.
  utter_form_help:
  - text: Just tell me how many people are coming.
  utter_ask_guests:
  - text: For how many?
  utter_booked:
  - text: Booked.
"""


async def test_a20_case_both_greeting_rules_load_and_greet():
    path = case("A20")
    domain = Domain({"intents": ["greet"], "responses": {"utter_greet": [{"text": "Hi!"}]}})
    chat = Chat(Dialogue(domain, load_policy(path / "rules.yml", domain), ScriptedActions(), KnowledgeStub()))
    assert texts(await chat.say(msg("greet"))) == ["Hi!"]
    assert texts(await chat.say(msg("greet"))) == ["Hi!"]


async def test_a20_conversation_start_tells_a_first_greeting_from_a_later_one(tmp_path):
    rules = """version: "3.1"
rules:
- rule: first greeting
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_welcome_new
- rule: later greetings
  steps:
  - intent: greet
  - action: utter_welcome_back
"""
    dialogue = bot(tmp_path, GREET_DOMAIN, rules)
    chat = Chat(dialogue)
    assert texts(await chat.say(msg("greet"))) == ["Welcome! First time here?"]
    assert texts(await chat.say(msg("greet"))) == ["Welcome back!"]
    assert texts(await Chat(dialogue, "s2").say(msg("greet"))) == ["Welcome! First time here?"]


async def test_a20_wait_for_user_input_false_lets_a_story_go_on(tmp_path):
    rules = """version: "3.1"
rules:
- rule: greet, and let the stories go on
  steps:
  - intent: greet
  - action: utter_greet
  wait_for_user_input: false
- rule: price
  steps:
  - intent: ask_price
  - action: utter_price
"""
    stories = """version: "3.1"
stories:
- story: greeting, then an offer
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_offer
- story: price, then an offer
  steps:
  - intent: ask_price
  - action: utter_price
  - action: utter_offer
"""
    chat = Chat(bot(tmp_path, GREET_DOMAIN, rules, stories))
    assert texts(await chat.say(msg("greet"))) == ["Hi!", "Can I help you find something?"]
    # a rule that waits for the user wins over the story, as in Rasa
    assert texts(await chat.say(msg("ask_price"))) == ["It's 20 dollars."]


async def test_a20_rules_for_one_intent_told_apart_by_a_slot(tmp_path, caplog):
    rules = """version: "3.1"
rules:
- rule: price for members
  condition:
  - slot_was_set:
    - member: true
  steps:
  - intent: ask_price
  - action: utter_member_price
- rule: price
  steps:
  - intent: ask_price
  - action: utter_price
- rule: join
  steps:
  - intent: join
  - action: utter_joined
"""
    with caplog.at_level(logging.WARNING):
        chat = Chat(bot(tmp_path, GREET_DOMAIN, rules))
    no_contradictions(caplog)
    assert texts(await chat.say(msg("ask_price"))) == ["It's 20 dollars."]
    assert texts(await chat.say(msg("join"))) == ["You're a member now."]
    assert texts(await chat.say(msg("ask_price"))) == ["For members it's 15 dollars."]


async def test_a20_rules_for_one_intent_told_apart_by_the_active_form(tmp_path, caplog):
    rules = """version: "3.1"
rules:
- rule: help
  condition:
  - active_loop: null
  steps:
  - intent: help
  - action: utter_help
- rule: help in the booking form
  condition:
  - active_loop: booking_form
  steps:
  - intent: help
  - action: utter_form_help
  - action: booking_form
  - active_loop: booking_form
- rule: book
  steps:
  - intent: book
  - action: booking_form
  - active_loop: booking_form
- rule: booked
  condition:
  - active_loop: booking_form
  steps:
  - action: booking_form
  - active_loop: null
  - action: utter_booked
"""
    with caplog.at_level(logging.WARNING):
        chat = Chat(bot(tmp_path, GREET_DOMAIN, rules))
    no_contradictions(caplog)
    assert texts(await chat.say(msg("help"))) == ["I can answer questions and book tables."]
    assert texts(await chat.say(msg("book"))) == ["For how many?"]
    assert texts(await chat.say(msg("help"))) == ["Just tell me how many people are coming.", "For how many?"]
    assert texts(await chat.say(msg("inform", "3", guests="3"))) == ["Booked."]
    assert texts(await chat.say(msg("help"))) == ["I can answer questions and book tables."]


# -- A21: conditional and channel-specific response variations ---------------------------------------


def a21_domain(extra_responses: dict | None = None) -> dict:
    snippet = read_yaml(case("A21") / "domain_snippet.yml", ValueError)
    return {"version": "3.1", "intents": ["greet", "inform"], "entities": ["order_id"],
            "slots": {"order_id": {"type": "text", "influence_conversation": False,
                                   "mappings": [{"type": "from_entity", "entity": "order_id"}]}},
            "responses": {**snippet["responses"], "utter_noted": [{"text": "Noted."}], **(extra_responses or {})}}


GREET_RULES = """version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: inform
  steps:
  - intent: inform
  - action: utter_noted
"""


def variation_bot(tmp_path, raw: dict) -> Dialogue:
    (tmp_path / "rules.yml").write_text(GREET_RULES)
    domain = Domain(raw)
    return Dialogue(domain, load_policy(tmp_path / "rules.yml", domain), ScriptedActions(), KnowledgeStub())


async def test_a21_case_fresh_rest_conversations_get_the_default_greeting(tmp_path):
    dialogue = variation_bot(tmp_path, a21_domain())
    for n in range(12):
        replies = await Chat(dialogue, f"pc{n}").say(msg("greet", "hello"))
        assert replies == [{"text": "Hi! I'm the Maple & Pine assistant (default greeting)."}]


async def test_a21_case_the_condition_and_the_channel_variations(tmp_path):
    dialogue = variation_bot(tmp_path, a21_domain())
    chat = Chat(dialogue, "back")
    await chat.say(msg("inform", "SK-1002", order_id="SK-1002"))
    for _ in range(5):
        assert await chat.say(msg("greet")) == [{"text": "Welcome back! Shall I check order SK-1002 again?"}]
    chat = Chat(dialogue, "slack", channel="slack")
    for _ in range(5):
        assert await chat.say(msg("greet")) == [{"text": "Hi from Slack!"}]


async def test_a21_a_channels_variation_before_a_conditional_one_without_channel(tmp_path):
    """Rasa's ResponseVariationFilter: conditional+channel, then channel, then conditional, then default."""
    dialogue = variation_bot(tmp_path, a21_domain())
    chat = Chat(dialogue, "slack-back", channel="slack")
    await chat.say(msg("inform", "SK-1002", order_id="SK-1002"))
    assert {(await chat.say(msg("greet")))[0]["text"] for _ in range(12)} == {"Hi from Slack!"}


VARIATIONS = {
    "utter_greet": [
        {"text": "Hello, VIP {name}!", "condition": [{"type": "slot", "name": "vip", "value": True}],
         "buttons": [{"title": "Lounge", "payload": "/lounge"}]},
        {"text": "你好，VIP！", "condition": [{"type": "slot", "name": "vip", "value": True},
                                           {"type": "slot", "name": "language", "value": "zh"}]},
        {"text": "WhatsApp VIP hello", "channel": "whatsapp",
         "condition": [{"type": "slot", "name": "vip", "value": True}]},
        {"text": "Hello there.", "buttons": [{"title": "Shop", "payload": "/shop"}]},
        {"text": "Hi on Telegram.", "channel": "telegram"},
    ],
}


def variation_domain() -> dict:
    return {"version": "3.1", "intents": ["greet", "inform"], "entities": ["name", "language"],
            "slots": {"vip": {"type": "bool", "influence_conversation": False,
                              "mappings": [{"type": "from_intent", "intent": "inform", "value": True}]},
                      "name": {"type": "text", "mappings": [{"type": "from_entity", "entity": "name"}]},
                      "language": {"type": "text", "influence_conversation": False,
                                   "mappings": [{"type": "from_entity", "entity": "language"}]}},
            "responses": {**VARIATIONS, "utter_noted": [{"text": "Noted."}]}}


@pytest.mark.parametrize("channel, vip, language, expected", [
    ("rest", False, None, {"Hello there."}),
    ("telegram", False, None, {"Hi on Telegram."}),
    ("rest", True, None, {"Hello, VIP Ana!"}),
    ("whatsapp", True, None, {"WhatsApp VIP hello"}),
    ("telegram", True, None, {"Hi on Telegram."}),
    ("socketio", True, "en", {"Hello, VIP Ana!"}),
])
async def test_a21_variations_by_condition_and_channel(tmp_path, channel, vip, language, expected):
    dialogue = variation_bot(tmp_path, variation_domain())
    chat = Chat(dialogue, channel=channel)
    if vip:
        entities = {"name": "Ana", **({"language": language} if language else {})}
        await chat.say(msg("inform", "I'm Ana, a VIP", **entities))
    seen = set()
    for _ in range(30):
        for reply in await chat.say(msg("greet")):
            assert set(reply) <= set(MESSAGE_KEYS), reply  # no condition, channel or other internal keys
            seen.add(reply["text"])
    assert seen == expected


async def test_a21_condition_values_are_compared_ignoring_case(tmp_path):
    """Rasa's _matches_filled_slots compares strings with casefold()."""
    raw = a21_domain()
    chat = Chat(variation_bot(tmp_path, raw), "lower")
    await chat.say(msg("inform", "sk-1002", order_id="sk-1002"))
    assert texts(await chat.say(msg("greet"))) == ["Welcome back! Shall I check order sk-1002 again?"]


async def test_a21_every_matching_conditional_variation_can_be_chosen(tmp_path):
    chat = Chat(variation_bot(tmp_path, variation_domain()), channel="socketio")
    await chat.say(msg("inform", "I'm Ana, a VIP", name="Ana", language="zh"))
    seen = {(await chat.say(msg("greet")))[0]["text"] for _ in range(40)}
    assert seen == {"Hello, VIP Ana!", "你好，VIP！"}


@pytest.mark.integration
async def test_a21_case_the_demo_with_the_cases_greeting(models):
    raw = {**models.domain.raw, "responses": {**models.domain.raw["responses"],
                                              **read_yaml(case("A21") / "domain_snippet.yml", ValueError)["responses"]}}
    domain = Domain(raw)
    dialogue = Dialogue(domain, load_policy(DEMO_CONFIG.parent / "rules.yml", domain), ScriptedActions(),
                        models.answerer)
    for sender, message in case_messages("A21"):
        replies = await Chat(dialogue, sender, interpreter=models.interpreter).say(message)
        assert replies == [{"text": "Hi! I'm the Maple & Pine assistant (default greeting)."}]


# -- B10: "no" / "not now" inside a form ----------------------------------------------------------------


ORDER_FORM_DOMAIN = """version: "3.1"
intents: [track, inform, stop, deny, affirm]
entities: [order_ref]
slots:
  order_ref:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: order_ref
forms:
  track_form:
    required_slots: [order_ref]
responses:
  utter_ask_order_ref:
  - text: What is your order number?
  utter_status:
  - text: Order {order_ref} is on its way.
  utter_anything_else:
  - text: Is there anything else I can help with?
"""
ORDER_FORM_RULES = """version: "3.1"
rules:
- rule: track
  steps:
  - intent: track
  - action: track_form
  - active_loop: track_form
- rule: submit
  condition:
  - active_loop: track_form
  steps:
  - action: track_form
  - active_loop: null
  - action: utter_status
- rule: no with nothing pending
  condition:
  - active_loop: null
  steps:
  - intent: deny
  - action: utter_anything_else
- rule: stop with nothing pending
  condition:
  - active_loop: null
  steps:
  - intent: stop
  - action: utter_anything_else
"""


def one_way_out(replies: list[dict], question: str) -> None:
    """The form's exit is one message: not the form's question again, not "anything else?" with the
    question, not the form's result for an order never given."""
    said = texts(replies)
    assert len(said) == 1, said
    assert question not in said[0] and "on its way" not in said[0] and "couldn't find" not in said[0], said


@pytest.mark.parametrize("intent, text", [
    ("deny", "no"),
    ("deny", "not now"),
    ("stop", "I don't have it right now"),
])
async def test_b10_no_inside_a_form_gets_one_answer(tmp_path, intent, text):
    chat = Chat(bot(tmp_path, ORDER_FORM_DOMAIN, ORDER_FORM_RULES))
    assert texts(await chat.say(msg("track"))) == ["What is your order number?"]
    one_way_out(await chat.say(msg(intent, text)), "What is your order number?")
    assert chat.session.active_form is None
    assert texts(await chat.say(msg(intent, text))) == ["Is there anything else I can help with?"]


@pytest.mark.integration
@pytest.mark.parametrize("start", ["I want to check my order status", "where is my order",
                                   "I want to cancel my order", "I want to return an item"])
@pytest.mark.parametrize("answer", ["I don't have it right now",
                                    "not now", "no", "I don't know it"])
async def test_b10_no_inside_the_demos_order_forms(demo, models, start, answer):
    chat = Chat(demo, interpreter=models.interpreter)
    assert "order number" in joined(await chat.say(start))
    replies = await chat.say(answer)
    assert len(replies) == 1 and "order number" not in joined(replies), texts(replies)
    assert "couldn't find" not in joined(replies)


@pytest.mark.integration
async def test_b10_case_the_demo_answers_once(demo, models):
    (sender, first), (_, second) = case_messages("B10")
    chat = Chat(demo, sender, interpreter=models.interpreter)
    assert "order number" in joined(await chat.say(first))
    replies = await chat.say(second)
    assert len(replies) == 1, texts(replies)
    assert "order number" not in joined(replies) and "couldn't find" not in joined(replies)


# -- B11: an order number inside Chinese text ------------------------------------------------------------


def order_ids(parse: dict) -> list[str]:
    return [str(e["value"]).upper().replace("-", "") for e in parse["entities"] if e["entity"] == "order_id"]


@pytest.mark.integration
def test_b11_case_order_numbers_in_chinese_text_are_found(models):
    for _, message in case_messages("B11"):
        if "SK" in message.upper():
            assert order_ids(models.interpreter.parse(message)), message


@pytest.mark.integration
@pytest.mark.parametrize("text, order", [
    ("我要查订单SK-1002", "SK1002"), ("订单号是SK1003", "SK1003"), ("SK-1002到哪了", "SK1002"),
    ("帮我查一下sk-1010的物流", "SK1010"), ("请问订单SK1017什么时候到？", "SK1017"), ("我的订单号：SK-1005", "SK1005"),
    ("查询SK-1012。", "SK1012"), ("订单SK1008还没到", "SK1008"),
])
def test_b11_order_numbers_without_spaces_around_them(models, text, order):
    assert order_ids(models.interpreter.parse(text)) == [order]


@pytest.mark.integration
async def test_b11_case_the_order_number_is_not_asked_for_again(demo, models):
    chats = {}
    replies = {}
    for sender, message in case_messages("B11"):
        chat = chats.setdefault(sender, Chat(demo, sender, interpreter=models.interpreter))
        replies.setdefault(sender, []).append(joined(await chat.say(message)))
    asks_number, asks_proof = "订单号", "邮箱"
    assert asks_proof in replies["b8a"][0] and asks_number not in replies["b8a"][0]
    assert asks_number in replies["b8b"][0]
    assert asks_proof in replies["b8b"][1] and asks_number not in replies["b8b"][1]
    status = joined(await chats["b8a"].say("sam.lee@example.com"))
    assert "SK-1002" in status and "UPS" in status


@pytest.mark.integration
@pytest.mark.parametrize("text", ["帮我查一下sk-1010的物流", "请问订单SK1017什么时候到？", "查询SK-1012。"])
async def test_b11_an_order_number_in_chinese_goes_on_to_the_proof(demo, models, text):
    reply = joined(await Chat(demo, interpreter=models.interpreter).say(text))
    assert "邮箱" in reply and "订单号" not in reply


# -- B23: a failed action must not poison the conversation ----------------------------------------------


@pytest.mark.integration
async def test_b23_case_with_the_action_server_down(demo_actions_down, models):
    chats: dict[str, Chat] = {}
    replies: list[str] = []
    for sender, message in case_messages("B23"):
        chat = chats.setdefault(sender, Chat(demo_actions_down, sender, interpreter=models.interpreter))
        replies.append(joined(await chat.say(message)))
    shipping, ask_number, failed, price_match, handoff = replies
    assert "business days" in shipping
    assert "order number" in ask_number
    assert "went wrong" in failed
    assert chats["b18c"].slots.get("order_id") is None and chats["b18c"].session.active_form is None
    assert "price" in price_match.lower() and "went wrong" not in price_match
    assert "passing this" in handoff and chats["b18a"].session.handoff


FAILING_DOMAIN = """version: "3.1"
intents: [book, inform, ask_question, human_handoff, greet, crash]
entities: [guests]
slots:
  guests:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: guests
forms:
  {form}:
    required_slots: [guests]
responses:
  utter_ask_guests:
  - text: For how many people?
  utter_greet:
  - text: Hello!
  utter_handoff:
  - text: A person from our team will take over.
actions: [{validate}, action_case_confirm, action_case_handoff, action_case_crash]
"""
FAILING_RULES = """version: "3.1"
rules:
- rule: book
  steps:
  - intent: book
  - action: {form}
  - active_loop: {form}
- rule: booked
  condition:
  - active_loop: {form}
  steps:
  - action: {form}
  - active_loop: null
  - action: action_case_confirm
- rule: questions
  steps:
  - intent: ask_question
  - action: action_answer_from_knowledge
- rule: a person
  steps:
  - intent: human_handoff
  - action: action_case_handoff
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: crash
  steps:
  - intent: crash
  - action: action_case_crash
"""


@pytest.fixture(params=["server-down", "validation-raises",
                        pytest.param("server-error", marks=pytest.mark.integration)])
async def failing_bot(request, tmp_path):
    """A project whose form validation fails: its action server is down, the action raises in this
    process, or it raises on a real action server (which answers HTTP 500)."""
    if request.param == "server-down":
        form, actions = "booking_form", RemoteActions(f"http://127.0.0.1:{free_port()}/webhook", timeout_s=2)
        await actions.discover()
    elif request.param == "server-error":
        form, actions = "case_booking_form", RemoteActions(request.getfixturevalue("case_actions_server"))
        await actions.discover()
    else:
        form, actions = "case_booking_form", InProcessActions(CASE_ACTIONS)
    validate = f"validate_{form}"
    yield bot(tmp_path, FAILING_DOMAIN.format(form=form, validate=validate), FAILING_RULES.format(form=form),
              actions=actions)
    await actions.close()


async def test_b23_after_a_failed_validation_the_conversation_goes_on(failing_bot):
    chat = Chat(failing_bot)
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]
    assert texts(await chat.say(msg("book"))) == ["For how many people?"]
    failed = joined(await chat.say(msg("inform", "four", guests="4")))
    assert "went wrong" in failed
    assert chat.slots.get("guests") is None and chat.session.active_form is None  # not kept, not submitted
    assert texts(await chat.say(msg("ask_question", "do you take dogs?"))) == [
        "From our help pages: do you take dogs?"]
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]
    assert texts(await chat.say(msg("book"))) == ["For how many people?"]  # asked afresh
    assert texts(await chat.say(msg("human_handoff", "a person please"))) == [
        "A person from our team will take over."]
    assert chat.session.handoff


async def test_b23_a_crashing_action_then_questions(failing_bot):
    chat = Chat(failing_bot)
    assert "went wrong" in joined(await chat.say(msg("crash")))
    assert texts(await chat.say(msg("ask_question", "when do you open?"))) == [
        "From our help pages: when do you open?"]
    assert texts(await chat.say(msg("greet"))) == ["Hello!"]
