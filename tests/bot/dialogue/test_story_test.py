"""Running Rasa test stories (bot/dialogue/story_test.py) on small projects, with a fake intent model."""

from __future__ import annotations

import textwrap

from bot.dialogue.domain import Domain
from bot.dialogue.engine import Dialogue
from bot.dialogue.rules import load_policy
from bot.dialogue.story_test import predict_action, run_test_stories

DOMAIN = {
    "intents": ["greet", "goodbye", "order", "order_status", "inform", "chitchat", "faq"],
    "entities": ["number", "product", "order_id"],
    "slots": {"order_id": {"type": "text", "influence_conversation": False,
                           "mappings": [{"type": "from_entity", "entity": "order_id"}]}},
    "forms": {"order_form": {"required_slots": ["order_id"]}},
    "responses": {name: [{"text": name}] for name in (
        "utter_greet", "utter_goodbye", "utter_ordered", "utter_chitchat", "utter_faq", "utter_ask_order_id",
        "utter_order_status", "utter_default")},
}

RULES = """
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
- rule: order
  steps:
  - intent: order
  - action: utter_ordered
- rule: faq
  steps:
  - intent: faq
  - action: utter_faq
- rule: start the form
  steps:
  - intent: order_status
  - action: order_form
  - active_loop: order_form
- rule: submit the form
  condition:
  - active_loop: order_form
  steps:
  - action: order_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_order_status
- rule: chitchat inside the form
  condition:
  - active_loop: order_form
  steps:
  - intent: chitchat
  - action: utter_chitchat
  - action: order_form
  - active_loop: order_form
"""

# The fake intent model: text -> (intent, entities).
NLU = {
    "hello": ("greet", []),
    "hi there": ("greet", []),
    "bye": ("goodbye", []),
    "I want 3 shirts": ("order", [{"entity": "product", "value": "shirts"}]),
    "two shirts please": ("order", [{"entity": "product", "value": "shirts"}, {"entity": "number", "value": "2"}]),
    "how do returns work": ("faq/returns", []),
    "where is my order": ("order_status", []),
    "SK-1": ("inform", [{"entity": "order_id", "value": "SK-1"}]),
    "nice weather": ("chitchat", []),
    "whatever": ("inform", []),
}


def parse(text: str) -> dict:
    intent, entities = NLU[text]
    return {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities}


def dialogue(tmp_path) -> Dialogue:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    domain = Domain(DOMAIN)
    return Dialogue(domain, load_policy(rules, domain), actions=None, answerer=None)


def run(tmp_path, stories: str, duckling=frozenset()):
    path = tmp_path / "tests" / "test_stories.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(stories))
    return run_test_stories(dialogue(tmp_path), parse, path.parent, set(duckling))


def test_a_passing_story(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: greet and leave
          steps:
          - user: |
              hello
            intent: greet
          - action: utter_greet
          - user: |
              bye
            intent: goodbye
          - action: utter_goodbye
        """)
    assert result.passed
    assert result.first_difference is None
    assert result.as_dict() == {"story": "greet and leave", "passed": True, "first_difference": None}


def test_an_action_difference_names_the_step_and_both_actions(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: wrong answer
          steps:
          - user: |
              hello
            intent: greet
          - action: utter_goodbye
        """)
    assert not result.passed
    # step 1 is the action_listen before the message, 2 the message, 3 the bot's action
    assert result.first_difference == "step 3: expected action 'utter_goodbye', predicted 'utter_greet'"
    assert set(result.as_dict()) == {"story", "passed", "first_difference"}


def test_the_first_difference_is_reported_not_a_later_one(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: two mistakes
          steps:
          - user: |
              hello
            intent: greet
          - action: utter_greet
          - user: |
              bye
            intent: goodbye
          - action: utter_greet
          - user: |
              hi there
            intent: greet
          - action: utter_goodbye
        """)
    assert result.first_difference == "step 6: expected action 'utter_greet', predicted 'utter_goodbye'"


def test_a_story_without_an_action_listen_where_the_bot_waits(tmp_path):
    """Two messages in a row: the bot was predicted to speak (utter_greet) but the story has it listen."""
    [result] = run(tmp_path, """
        stories:
        - story: no answer to hello
          steps:
          - user: |
              hello
            intent: greet
          - user: |
              bye
            intent: goodbye
          - action: utter_goodbye
        """)
    assert result.first_difference == "step 3: expected action 'action_listen', predicted 'utter_greet'"


def test_an_intent_difference(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: hello read as goodbye
          steps:
          - user: |
              bye
            intent: greet
          - action: utter_greet
        """)
    assert not result.passed
    assert result.first_difference == "step 2: user 'bye': expected intent 'greet', predicted 'goodbye'"


def test_a_retrieval_intent_counts_as_its_base_intent(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: a question
          steps:
          - user: |
              how do returns work
            intent: faq
          - action: utter_faq
        """)
    assert result.passed, result.first_difference


def test_an_entity_difference_from_a_duckling_dimension(tmp_path):
    stories = """
        stories:
        - story: three shirts
          steps:
          - user: |
              I want [3](number) [shirts](product)
            intent: order
          - action: utter_ordered
        """
    [result] = run(tmp_path, stories, duckling={"number"})
    assert not result.passed
    assert result.needs == "Duckling"
    assert result.first_difference.startswith("step 2: user 'I want 3 shirts': expected entities")
    assert "('number', '3')" in result.first_difference
    assert "Duckling" in result.first_difference
    assert "needs" not in result.as_dict()
    [result] = run(tmp_path, stories)  # a project without Duckling: an ordinary difference
    assert not result.passed
    assert result.needs is None
    assert "Duckling" not in result.first_difference


def test_an_entity_difference_not_from_duckling(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: an order number read as a product
          steps:
          - user: |
              [SK-1](product)
            intent: inform
          - action: utter_ordered
        """, duckling={"number"})
    assert not result.passed
    assert result.needs is None
    assert result.first_difference == ("step 2: user 'SK-1': expected entities [('product', 'sk-1')], "
                                       "found [('order_id', 'sk-1')]")


def test_an_entity_the_story_does_not_annotate_is_a_difference(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: unannotated order number
          steps:
          - user: |
              SK-1
            intent: inform
          - action: utter_ordered
        """)
    assert result.first_difference == "step 2: user 'SK-1': expected entities [], found [('order_id', 'sk-1')]"


def test_entities_the_domain_does_not_declare_are_not_compared(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: a colour the domain does not know
          steps:
          - user: |
              I want 3 [shirts](product)
            intent: order
            entities:
            - product: shirts
            - colour: red
          - action: utter_ordered
        """)
    assert result.passed, result.first_difference


def test_or_in_a_test_story_makes_one_result_per_alternative(tmp_path):
    results = run(tmp_path, """
        stories:
        - story: hello or bye
          steps:
          - or:
            - user: |
                hello
              intent: greet
            - user: |
                bye
              intent: goodbye
          - action: utter_greet
        """)
    assert [(r.story, r.passed) for r in results] == [("hello or bye", True), ("hello or bye (2)", False)]
    assert results[1].first_difference == "step 3: expected action 'utter_greet', predicted 'utter_goodbye'"


def test_a_form_story_with_an_unhappy_path(tmp_path):
    """When the form is predicted but the story has another action, the form is taken to have rejected
    the message (Rasa's emulate_loop_rejection) and the prediction is made again."""
    [result] = run(tmp_path, """
        stories:
        - story: order status with chitchat
          steps:
          - user: |
              where is my order
            intent: order_status
          - action: order_form
          - active_loop: order_form
          - slot_was_set:
            - requested_slot: order_id
          - user: |
              nice weather
            intent: chitchat
          - action: utter_chitchat
          - action: order_form
          - user: |
              [SK-1](order_id)
            intent: inform
          - action: order_form
          - slot_was_set:
            - order_id: SK-1
          - active_loop: null
          - slot_was_set:
            - requested_slot: null
          - action: utter_order_status
        """)
    assert result.passed, result.first_difference


def test_predict_action_marks_the_form_rejected_only_when_the_story_says_otherwise(tmp_path):
    bot = dialogue(tmp_path)
    in_form = [{"event": "action", "name": "action_listen"}, {"event": "user", "intent": "order_status"},
               {"event": "action", "name": "order_form"}, {"event": "active_loop", "name": "order_form"},
               {"event": "action", "name": "action_listen"}, {"event": "user", "intent": "chitchat"}]
    tracker = list(in_form)
    assert predict_action(bot, tracker, "order_form") == "order_form"
    assert tracker == in_form
    assert predict_action(bot, tracker, "utter_chitchat") == "utter_chitchat"
    assert tracker[-1] == {"event": "action_execution_rejected", "name": "order_form"}


def test_nothing_predicted_after_a_message_is_the_fallback(tmp_path):
    [result] = run(tmp_path, """
        stories:
        - story: no rule for this
          steps:
          - user: |
              whatever
            intent: inform
          - action: utter_greet
        """)
    assert result.first_difference == "step 3: expected action 'utter_greet', predicted 'action_default_fallback'"


def test_several_files_and_stories_keep_their_order(tmp_path):
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "a.yml").write_text("stories:\n- story: a\n  steps:\n  - user: hello\n    intent: greet\n"
                                  "  - action: utter_greet\n")
    (folder / "b.yml").write_text("stories:\n- story: b1\n  steps:\n  - user: bye\n    intent: goodbye\n"
                                  "  - action: utter_goodbye\n- story: b2\n  steps:\n  - user: bye\n"
                                  "    intent: goodbye\n  - action: utter_greet\n")
    (folder / "nlu.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hello\n")
    results = run_test_stories(dialogue(tmp_path), parse, folder)
    assert [(r.story, r.passed) for r in results] == [("a", True), ("b1", True), ("b2", False)]


def test_a_full_retrieval_intent_and_its_response_are_compared_as_rasa_does(tmp_path):
    """`intent: faq/returns` and `action: utter_faq/returns` in a test story: the sub-intent the model
    found, and the response the retrieval action chose (Rasa's test names it so)."""
    rules = tmp_path / "rules.yml"
    rules.write_text("rules:\n- rule: faq\n  steps:\n  - intent: faq\n  - action: utter_faq\n")
    domain = Domain({"intents": ["faq"], "responses": {"utter_faq/returns": [{"text": "30 days"}],
                                                       "utter_faq/shipping": [{"text": "3 days"}]}})
    bot = Dialogue(domain, load_policy(rules, domain), actions=None, answerer=None)
    path = tmp_path / "tests" / "stories.yml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent("""
        stories:
        - story: the right answer
          steps:
          - user: how do returns work
            intent: faq/returns
          - action: utter_faq/returns
        - story: another answer expected
          steps:
          - user: how do returns work
            intent: faq/returns
          - action: utter_faq/shipping
        """))
    right, wrong = run_test_stories(bot, parse, path.parent)
    assert right.passed, right.first_difference
    assert not wrong.passed and "expected action 'utter_faq/shipping', predicted 'utter_faq/returns'" in \
        wrong.first_difference


def test_a_restart_in_the_middle_of_a_form_starts_the_conversation_again(tmp_path):
    """A story's `action: action_restart` forgets the conversation, as the action itself does."""
    [result] = run(tmp_path, """
        stories:
        - story: restart mid form
          steps:
          - intent: order_status
          - action: order_form
          - active_loop: order_form
          - intent: restart
          - action: action_restart
          - intent: greet
          - action: utter_greet
        """)
    assert result.passed, result.first_difference
