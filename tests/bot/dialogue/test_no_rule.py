"""A message that no rule covers is never met with silence (case A24)."""

from pathlib import Path

import pytest

from bot.dialogue.custom_actions import InProcessActions
from bot.dialogue.domain import Domain
from bot.dialogue.engine import Dialogue
from bot.dialogue.policy import PolicyEnsemble
from bot.dialogue.rules import load_policy
from bot.sessions.store import Session

CASE = Path(__file__).resolve().parents[4] / "shared" / "cases" / "A09"
pytestmark = pytest.mark.integration


def parse(text: str, intent: str) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}


def project(tmp_path, domain: str, rules: str) -> tuple[Domain, PolicyEnsemble]:
    (tmp_path / "domain.yml").write_text(domain)
    (tmp_path / "rules.yml").write_text(rules)
    loaded = Domain.load(tmp_path / "domain.yml")
    return loaded, load_policy(tmp_path / "rules.yml", loaded)


DOMAIN = """version: "3.1"
intents: [greet, inform]
responses:
  utter_greet:
    - text: "Hello!"
"""
RULES = """version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
"""


async def test_without_a_rule_or_utter_default_the_store_knowledge_answers(tmp_path, models):
    domain, rules = project(tmp_path, DOMAIN, RULES)
    dialogue = Dialogue(domain, rules, InProcessActions("actions"), models.answerer)
    session = Session("a24")
    replies = await dialogue.respond(session, parse("my email is a@b.com", "inform"))
    assert replies and replies[0]["text"]  # not []: here, "I don't have reliable information ..." and a person
    answered = await dialogue.respond(Session("a24-b"), parse("Do you accept PayPal?", "inform"))
    assert "PayPal" in answered[0]["text"]
    assert dialogue.answers_from_knowledge("inform")


async def test_a_domains_own_utter_default_is_used_as_in_rasa(tmp_path, models):
    domain, rules = project(tmp_path, DOMAIN + '  utter_default:\n    - text: "Sorry, I did not get that."\n',
                            RULES)
    dialogue = Dialogue(domain, rules, InProcessActions("actions"), models.answerer)
    replies = await dialogue.respond(Session("a24-c"), parse("my email is a@b.com", "inform"))
    assert [r["text"] for r in replies] == ["Sorry, I did not get that."]


@pytest.mark.skipif(not CASE.is_dir(), reason="the shared cases are not here")
async def test_case_a24_the_a09_project_answers_a_message_without_a_rule(models):
    domain = Domain.load(CASE / "domain.yml")
    rules = load_policy(CASE / "rules.yml", domain)
    dialogue = Dialogue(domain, rules, InProcessActions("actions"), models.answerer)
    replies = await dialogue.respond(Session("a24-d"), parse("my email is a@b.com", "inform"))
    assert replies and replies[0]["text"]


def test_an_empty_message_to_a_bot_without_knowledge_gets_its_own_utter_default(tmp_path):
    """A Rasa project without knowledge/ gets its own utter_default for "   ", not the demo store's prompt."""
    from types import SimpleNamespace

    from bot.pipeline import Assistant
    from knowledge.retrieval import EmptyRetriever

    domain, rules = project(tmp_path, DOMAIN + '  utter_default:\n    - text: "Could you rephrase?"\n', RULES)
    bot = Dialogue(domain, rules, None, SimpleNamespace(retriever=EmptyRetriever()))
    assistant = Assistant(interpreter=None, dialogue=bot, sessions=None, locks=None)
    assert assistant.empty_message_reply("   ") == {"text": "Could you rephrase?"}

