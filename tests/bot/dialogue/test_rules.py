"""Reading the domain, rules and stories files."""

import pytest

from bot.config import DEMO_CONFIG
from bot.dialogue.domain import Domain, DomainError
from bot.dialogue.engine import Dialogue
from bot.dialogue.rules import RulesError, load_policy

DEMO = DEMO_CONFIG.parent


def test_demo_rules():
    domain = Domain.load(DEMO / "domain.yml")
    dialogue = Dialogue(domain, load_policy(DEMO / "rules.yml", domain), actions=None, answerer=None)
    assert dialogue.plan("order_status") == ["order_status_form"]
    assert dialogue.plan("ask_question") == ["action_answer_from_knowledge"]
    assert dialogue.answers_from_knowledge("nlu_fallback")


def test_responses_fill_slots():
    domain = Domain({"responses": {"utter_x": [{"text": "Order {order_id} is {missing}"}]}})
    # a missing value leaves only its own placeholder (case A09)
    assert domain.render("utter_x", {"order_id": "SK-1"})[0]["text"] == "Order SK-1 is {missing}"
    domain = Domain({"responses": {"utter_x": [{"text": "Order {order_id}"}]}})
    assert domain.render("utter_x", {"order_id": "SK-1"})[0]["text"] == "Order SK-1"


def test_a_rule_with_an_undeclared_action_is_refused(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text("rules:\n- rule: r\n  steps:\n  - intent: greet\n  - action: utter_nope\n")
    with pytest.raises(RulesError, match="rule 'r' uses action 'utter_nope'"):
        load_policy(path, Domain({"intents": ["greet"]}))


def test_a_form_needing_an_undeclared_slot_is_refused(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text("forms:\n  f:\n    required_slots: [email]\n")
    with pytest.raises(DomainError, match="form 'f' requires slot 'email'"):
        Domain.load(path)


def test_a_rule_with_an_undeclared_intent_is_a_warning(tmp_path, caplog):
    path = tmp_path / "rules.yml"
    path.write_text("rules:\n- rule: r\n  steps:\n  - intent: no_such_intent\n  - action: utter_hi\n")
    load_policy(path, Domain({"intents": ["greet"], "responses": {"utter_hi": [{"text": "hi"}]}}))
    assert "rule 'r' uses intent 'no_such_intent', which the domain does not declare" in caplog.text
