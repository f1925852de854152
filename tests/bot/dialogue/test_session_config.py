"""Rasa's session_config: a conversation idle longer than session_expiration_time starts a new session
(action_session_start), with the slots carried over or not; /restart starts afresh at once."""

import time

from bot.dialogue.domain import Domain
from bot.dialogue.engine import Dialogue
from bot.dialogue.rules import load_policy
from bot.sessions.store import Session

RULES = """rules:
- rule: greet
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_welcome
- rule: greet later
  steps:
  - intent: greet
  - action: utter_hello_again
"""


def dialogue(tmp_path, carry_over: bool) -> Dialogue:
    domain = Domain({
        "session_config": {"session_expiration_time": 1, "carry_over_slots_to_new_session": carry_over},
        "intents": ["greet", "inform"], "entities": ["name"],
        "slots": {"name": {"type": "text", "mappings": [{"type": "from_entity", "entity": "name"}]},
                  "tier": {"type": "categorical", "values": ["basic", "gold"], "initial_value": "basic",
                           "mappings": [{"type": "custom"}]}},
        "responses": {"utter_welcome": [{"text": "Welcome{name}!"}], "utter_hello_again": [{"text": "Hello again!"}],
                      "utter_default": [{"text": "Sorry?"}]},
    })
    (tmp_path / "rules.yml").write_text(RULES)
    return Dialogue(domain, load_policy(tmp_path / "rules.yml", domain), actions=None, answerer=None)


def parse(text: str, intent: str, entities=()) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": list(entities)}


async def say(bot: Dialogue, session: Session, text: str, intent: str, entities=()) -> list[str]:
    replies = await bot.respond(session, parse(text, intent, entities))
    session.history.extend(session.new_events)
    session.new_events = []
    return [r.get("text") for r in replies]


def age(session: Session, seconds: float) -> None:
    for event in session.history:
        event["timestamp"] -= seconds


async def test_a_new_conversation_starts_a_session_with_initial_slot_values(tmp_path):
    bot, session = dialogue(tmp_path, True), Session("s1")
    assert await say(bot, session, "hi", "greet") == ["Welcome!"]
    names = [e.get("name") for e in session.history if e["event"] == "action"]
    assert names[:2] == ["action_session_start", "action_listen"]
    assert session.slots["tier"] == "basic"
    assert await say(bot, session, "hi again", "greet") == ["Hello again!"]  # conversation_start: only at the start


async def test_an_expired_session_starts_again_and_carries_slots_over(tmp_path):
    bot, session = dialogue(tmp_path, True), Session("s2")
    await say(bot, session, "I'm Ada", "inform", [{"entity": "name", "value": "Ada"}])
    age(session, 120)  # two minutes idle; the session expires after one
    assert await say(bot, session, "hi", "greet") == ["WelcomeAda!"]
    assert session.slots["name"] == "Ada"
    assert [e["event"] for e in session.history].count("session_started") == 2


async def test_without_carry_over_the_new_session_forgets_the_slots(tmp_path):
    bot, session = dialogue(tmp_path, False), Session("s3")
    await say(bot, session, "I'm Ada", "inform", [{"entity": "name", "value": "Ada"}])
    age(session, 120)
    assert await say(bot, session, "hi", "greet") == ["Welcome!"]
    assert session.slots.get("name") is None and session.slots["tier"] == "basic"


async def test_a_session_within_its_time_goes_on(tmp_path):
    bot, session = dialogue(tmp_path, True), Session("s4")
    await say(bot, session, "I'm Ada", "inform", [{"entity": "name", "value": "Ada"}])
    age(session, 30)
    assert await say(bot, session, "hi", "greet") == ["Hello again!"]


async def test_restart_forgets_the_conversation(tmp_path):
    bot, session = dialogue(tmp_path, True), Session("s5")
    await say(bot, session, "I'm Ada", "inform", [{"entity": "name", "value": "Ada"}])
    await say(bot, session, "/restart", "restart")
    assert session.slots.get("name") is None
    assert time.time() - session.history[-1]["timestamp"] < 5
    assert await say(bot, session, "hi", "greet") == ["Welcome!"]  # the conversation starts again
