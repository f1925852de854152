"""Predicting the next action from rules and stories, as Rasa 3's RulePolicy and
(Augmented)MemoizationPolicy do: small domains and YAML files, hand-built conversations.

Where shopkeep differs from Rasa in a way that matters, the test says what Rasa does and is
marked xfail(strict=True) with the reason (Rasa 3.x source: rasa/core/policies/rule_policy.py,
memoization.py, rasa/shared/core/domain.py, slots.py, training_data/structures.py).
"""

from __future__ import annotations

import textwrap

from bot.dialogue.domain import Domain
from bot.dialogue.rules import load_policy

LISTEN = "action_listen"


# -- events, as the engine puts them on the tracker -------------------------------------


def listen() -> dict:
    return {"event": "action", "name": LISTEN}


def user(intent: str, **entities) -> dict:
    return {"event": "user", "intent": intent, "entities": [{"entity": k, "value": v} for k, v in entities.items()]}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def slot(name: str, value) -> dict:
    return {"event": "slot", "name": name, "value": value}


def loop(name: str | None) -> dict:
    return {"event": "active_loop", "name": name}


def rejected(name: str) -> dict:
    return {"event": "action_execution_rejected", "name": name}


def said(intent: str, **entities) -> list[dict]:
    """The shopper's turn: the bot listened, then the message came."""
    return [listen(), user(intent, **entities)]


SESSION_START = [action("action_session_start"), {"event": "session_started"}]


def responses(*names: str) -> dict:
    return {name: [{"text": name}] for name in names}


def policy(tmp_path, domain: dict, data: str, max_history: int = 5):
    path = tmp_path / "data.yml"
    path.write_text(textwrap.dedent(data))
    return load_policy(path, Domain(domain), max_history)


def next_action(ensemble, events: list[dict]) -> str | None:
    return ensemble.predict(events).action


# -- rules --------------------------------------------------------------------------


GREET_RULES = """
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


def test_a_rule_per_intent(tmp_path):
    bot = policy(tmp_path, {"intents": ["greet", "goodbye"], "responses": responses("utter_greet", "utter_goodbye")},
                 GREET_RULES)
    assert bot.predict(said("greet")).action == "utter_greet"
    assert bot.predict(said("greet")).policy == "rule"
    assert next_action(bot, said("goodbye")) == "utter_goodbye"
    assert next_action(bot, [*said("greet"), action("utter_greet")]) == LISTEN


def test_rules_apply_in_the_middle_of_a_conversation(tmp_path):
    """A rule without conversation_start begins with the snippet `...`: anything may come before."""
    bot = policy(tmp_path, {"intents": ["greet", "goodbye"], "responses": responses("utter_greet", "utter_goodbye")},
                 GREET_RULES)
    history = [*said("greet"), action("utter_greet"), *said("chitchat"), action("utter_whatever")]
    assert next_action(bot, [*history, *said("goodbye")]) == "utter_goodbye"
    assert next_action(bot, [*SESSION_START, *history, *said("greet")]) == "utter_greet"


def test_a_rule_with_no_match_predicts_nothing(tmp_path):
    bot = policy(tmp_path, {"intents": ["greet"], "responses": responses("utter_greet", "utter_goodbye")},
                 GREET_RULES)
    prediction = bot.predict(said("weather"))
    assert (prediction.action, prediction.policy) == (None, "none")
    assert not prediction


def test_or_in_a_rule(tmp_path):
    bot = policy(tmp_path, {"intents": ["thank", "affirm"], "responses": responses("utter_welcome")}, """
        rules:
        - rule: thanks or yes
          steps:
          - or:
            - intent: thank
            - intent: affirm
          - action: utter_welcome
        """)
    assert next_action(bot, said("thank")) == "utter_welcome"
    assert next_action(bot, said("affirm")) == "utter_welcome"
    assert next_action(bot, said("deny")) is None


def test_or_in_a_story(tmp_path):
    bot = policy(tmp_path, {"intents": ["greet", "affirm", "thank", "deny"],
                            "responses": responses("utter_greet", "utter_happy", "utter_sad")}, """
        stories:
        - story: greet then yes or thanks
          steps:
          - intent: greet
          - action: utter_greet
          - or:
            - intent: affirm
            - intent: thank
          - action: utter_happy
        """)
    start = [*said("greet"), action("utter_greet")]
    assert bot.predict([*start, *said("affirm")]).policy == "memo"
    assert next_action(bot, [*start, *said("affirm")]) == "utter_happy"
    assert next_action(bot, [*start, *said("thank")]) == "utter_happy"
    assert next_action(bot, [*start, *said("thank"), action("utter_happy")]) == LISTEN


def test_the_more_specific_rule_wins_when_its_slot_condition_holds(tmp_path):
    domain = {"intents": ["greet"], "slots": {"name": {"type": "text"}},
              "responses": responses("utter_greet", "utter_greet_by_name")}
    bot = policy(tmp_path, domain, """
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet
        - rule: greet someone we know
          condition:
          - slot_was_set:
            - name: Ann
          steps:
          - intent: greet
          - action: utter_greet_by_name
        """)
    assert next_action(bot, said("greet")) == "utter_greet"
    assert next_action(bot, [slot("name", "Bob"), *said("greet")]) == "utter_greet_by_name"  # a text slot: set or not
    assert bot.predict([slot("name", "Bob"), *said("greet")]).source == "greet someone we know"
    assert next_action(bot, [slot("name", "Bob"), slot("name", None), *said("greet")]) == "utter_greet"


def test_a_null_slot_condition_means_not_set(tmp_path):
    domain = {"intents": ["order"], "slots": {"email": {"type": "text"}},
              "responses": responses("utter_ask_email", "utter_ordering")}
    bot = policy(tmp_path, domain, """
        rules:
        - rule: no e-mail yet
          condition:
          - slot_was_set:
            - email: null
          steps:
          - intent: order
          - action: utter_ask_email
        - rule: e-mail known
          condition:
          - slot_was_set:
            - email: a@b.c
          steps:
          - intent: order
          - action: utter_ordering
        """)
    assert next_action(bot, said("order")) == "utter_ask_email"
    assert next_action(bot, [slot("email", "x@y.z"), *said("order")]) == "utter_ordering"


def test_a_rule_for_no_active_form(tmp_path):
    domain = {"intents": ["chitchat", "order"], "slots": {"order_id": {"type": "text"}},
              "forms": {"order_form": {"required_slots": ["order_id"]}},
              "responses": responses("utter_chitchat", "utter_ask_order_id")}
    bot = policy(tmp_path, domain, """
        rules:
        - rule: chitchat outside a form
          condition:
          - active_loop: null
          steps:
          - intent: chitchat
          - action: utter_chitchat
        """)
    assert next_action(bot, said("chitchat")) == "utter_chitchat"
    in_form = [*said("order"), action("order_form"), loop("order_form"), *said("chitchat"), rejected("order_form")]
    assert next_action(bot, in_form) is None
    finished = [*said("order"), action("order_form"), loop("order_form"), loop(None), *said("chitchat")]
    assert next_action(bot, finished) == "utter_chitchat"


def test_conversation_start_applies_only_at_the_start(tmp_path):
    bot = policy(tmp_path, {"intents": ["greet"], "responses": responses("utter_welcome", "utter_greet")}, """
        rules:
        - rule: welcome at the start
          conversation_start: true
          steps:
          - intent: greet
          - action: utter_welcome
        """)
    assert next_action(bot, said("greet")) == "utter_welcome"
    assert next_action(bot, [*SESSION_START, *said("greet")]) == "utter_welcome"
    later = [*said("greet"), action("utter_welcome"), *said("greet")]
    assert next_action(bot, later) is None


def test_conversation_start_and_a_general_rule(tmp_path):
    bot = policy(tmp_path, {"intents": ["greet"], "responses": responses("utter_welcome", "utter_greet")}, """
        rules:
        - rule: welcome at the start
          conversation_start: true
          steps:
          - intent: greet
          - action: utter_welcome
        - rule: greet later
          steps:
          - intent: greet
          - action: utter_greet
        """)
    assert next_action(bot, said("greet")) == "utter_welcome"
    assert next_action(bot, [*said("greet"), action("utter_welcome"), *said("greet")]) == "utter_greet"


def test_a_rule_that_does_not_wait_for_the_user_hands_over_to_the_next_rule(tmp_path):
    domain = {"intents": ["greet"], "slots": {"returning": {"type": "bool"}},
              "actions": ["action_check_returning"], "responses": responses("utter_welcome_back", "utter_greet")}
    bot = policy(tmp_path, domain, """
        rules:
        - rule: check who it is
          steps:
          - intent: greet
          - action: action_check_returning
          wait_for_user_input: false
        - rule: welcome back
          condition:
          - slot_was_set:
            - returning: true
          steps:
          - action: action_check_returning
          - action: utter_welcome_back
        """)
    assert next_action(bot, said("greet")) == "action_check_returning"
    checked = [*said("greet"), action("action_check_returning")]
    assert next_action(bot, checked) is None  # not action_listen: the rule does not end the turn
    assert next_action(bot, [*checked, slot("returning", True)]) == "utter_welcome_back"
    assert next_action(bot, [*checked, slot("returning", True), action("utter_welcome_back")]) == LISTEN


def test_a_rule_that_waits_for_the_user_ends_with_listening(tmp_path):
    domain = {"intents": ["greet"], "actions": ["action_check_returning"]}
    bot = policy(tmp_path, domain, """
        rules:
        - rule: check who it is
          steps:
          - intent: greet
          - action: action_check_returning
        """)
    assert next_action(bot, [*said("greet"), action("action_check_returning")]) == LISTEN


def test_a_rule_with_several_actions_predicts_each_in_turn(tmp_path):
    bot = policy(tmp_path, {"intents": ["help"], "responses": responses("utter_help", "utter_more")}, """
        rules:
        - rule: help
          steps:
          - intent: help
          - action: utter_help
          - action: utter_more
        """)
    assert next_action(bot, said("help")) == "utter_help"
    assert next_action(bot, [*said("help"), action("utter_help")]) == "utter_more"
    assert next_action(bot, [*said("help"), action("utter_help"), action("utter_more")]) == LISTEN


# -- forms ----------------------------------------------------------------------------

FORM_DOMAIN = {
    "intents": ["order_status", "inform", "chitchat", "faq", "stop", "greet"],
    "entities": ["order_id"],
    "slots": {"order_id": {"type": "text", "influence_conversation": False,
                           "mappings": [{"type": "from_entity", "entity": "order_id"}]}},
    "forms": {"order_form": {"required_slots": ["order_id"]}},
    "responses": responses("utter_ask_order_id", "utter_order_status", "utter_chitchat", "utter_faq",
                           "utter_ask_continue", "utter_greet"),
}

FORM_RULES = """
rules:
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
- rule: a question, anywhere
  steps:
  - intent: faq
  - action: utter_faq
"""


def form_started() -> list[dict]:
    return [*said("order_status"), action("order_form"), loop("order_form"), slot("requested_slot", "order_id")]


def test_a_form_happy_path(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    assert next_action(bot, said("order_status")) == "order_form"
    assert next_action(bot, form_started()) == LISTEN  # the form asked: wait for the answer
    answered = [*form_started(), *said("inform", order_id="SK-1")]
    assert bot.predict(answered).action == "order_form"
    assert bot.predict(answered).policy == "loop"
    done = [*answered, action("order_form"), slot("order_id", "SK-1"), loop(None), slot("requested_slot", None)]
    assert next_action(bot, done) == "utter_order_status"
    assert next_action(bot, [*done, action("utter_order_status")]) == LISTEN


def test_the_form_is_predicted_after_any_message_it_does_not_reject(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    assert next_action(bot, [*form_started(), *said("greet")]) == "order_form"


def test_a_rejected_form_takes_the_unhappy_path_rule_and_returns(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    chitchat = [*form_started(), *said("chitchat"), rejected("order_form")]
    assert next_action(bot, chitchat) == "utter_chitchat"
    assert bot.predict(chitchat).source == "chitchat inside the form"
    assert next_action(bot, [*chitchat, action("utter_chitchat")]) == "order_form"
    back = [*chitchat, action("utter_chitchat"), action("order_form"), slot("requested_slot", "order_id")]
    assert next_action(bot, back) == LISTEN


def test_a_general_rule_inside_a_form_returns_to_the_form(tmp_path):
    """A rule without an active_loop condition ends with action_listen; inside a form Rasa predicts
    the form instead (`predicted_listen_from_general_rule`)."""
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    question = [*form_started(), *said("faq"), rejected("order_form")]
    assert next_action(bot, question) == "utter_faq"
    assert next_action(bot, [*question, action("utter_faq")]) == "order_form"


def test_a_general_rule_outside_a_form_listens(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    assert next_action(bot, [*said("faq"), action("utter_faq")]) == LISTEN


def test_a_story_that_leaves_the_form_keeps_it_from_being_predicted(tmp_path):
    """A story where the form is not predicted after another action inside the loop gives
    DO_NOT_PREDICT_LOOP_ACTION: the general rule's action_listen is then not turned into the form."""
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES + """
stories:
- story: a question, then stop asking
  steps:
  - intent: order_status
  - action: order_form
  - active_loop: order_form
  - intent: faq
  - action: utter_faq
  - action: utter_ask_continue
""")
    question = [*form_started(), *said("faq"), rejected("order_form")]
    prediction = bot.predict([*question, action("utter_faq")])
    assert (prediction.action, prediction.policy) == ("utter_ask_continue", "memo")


def test_a_rejection_with_no_rule_or_story_predicts_nothing(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    assert next_action(bot, [*form_started(), *said("stop"), rejected("order_form")]) is None


def test_default_intents_win_over_rules_and_forms(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES + """
- rule: a rule for restart is overruled
  steps:
  - intent: restart
  - action: utter_greet
""")
    assert next_action(bot, said("restart")) == "action_restart"
    assert bot.predict(said("restart")).policy == "default"
    assert next_action(bot, said("back")) == "action_back"
    assert next_action(bot, said("session_start")) == "action_session_start"
    assert next_action(bot, [*form_started(), *said("restart")]) == "action_restart"


def test_a_restart_forgets_the_conversation_before_it(tmp_path):
    bot = policy(tmp_path, FORM_DOMAIN, FORM_RULES)
    restarted = [*form_started(), *said("restart"), action("action_restart"), {"event": "restart"}]
    assert bot.tracker(restarted).active_loop is None
    assert next_action(bot, [*restarted, *said("faq")]) == "utter_faq"


# -- stories (memoization) ----------------------------------------------------------------

MOOD_DOMAIN = {"intents": ["greet", "mood_great", "mood_unhappy", "affirm", "deny", "goodbye"],
               "responses": responses("utter_greet", "utter_happy", "utter_cheer_up", "utter_did_that_help",
                                      "utter_goodbye")}

MOOD_STORIES = """
stories:
- story: happy path
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_great
  - action: utter_happy
- story: sad path
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_unhappy
  - action: utter_cheer_up
  - action: utter_did_that_help
  - intent: affirm
  - action: utter_happy
- story: sad path, still sad
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_unhappy
  - action: utter_cheer_up
  - action: utter_did_that_help
  - intent: deny
  - action: utter_goodbye
"""


def test_a_story_is_followed_turn_by_turn(tmp_path):
    bot = policy(tmp_path, MOOD_DOMAIN, MOOD_STORIES)
    conversation = said("greet")
    for expected in ("utter_greet", LISTEN):
        assert next_action(bot, conversation) == expected
        conversation = [*conversation, action(expected)]
    conversation.append(user("mood_unhappy"))  # the bot is listening already
    for expected in ("utter_cheer_up", "utter_did_that_help", LISTEN):
        prediction = bot.predict(conversation)
        assert (prediction.action, prediction.policy) == (expected, "memo")
        conversation = [*conversation, action(expected)]
    assert next_action(bot, [*conversation, user("deny")]) == "utter_goodbye"
    assert next_action(bot, [*conversation, user("affirm")]) == "utter_happy"


def test_a_message_out_of_its_story_gets_what_shorter_windows_agree_on(tmp_path):
    """Rasa's AugmentedMemoizationPolicy predicts nothing for `affirm` at the start (no story has it
    there; TEDPolicy would guess). shopkeep, without TED, tries shorter windows of the latest states
    and predicts when they lead to one action only (documented in bot/dialogue/policy.py)."""
    bot = policy(tmp_path, MOOD_DOMAIN, MOOD_STORIES)
    prediction = bot.predict(said("affirm"))
    assert (prediction.action, prediction.policy) == ("utter_happy", "memo_window")
    assert next_action(bot, said("deny")) == "utter_goodbye"


def test_a_story_start_is_recalled_later_in_a_conversation(tmp_path):
    """AugmentedMemoizationPolicy: the conversation is replayed from later actions on (forgetting what
    came before) until a memorised window matches."""
    bot = policy(tmp_path, MOOD_DOMAIN, MOOD_STORIES)
    earlier = [*said("goodbye"), action("utter_goodbye")]
    prediction = bot.predict([*earlier, *said("greet"), action("utter_greet"), *said("mood_great")])
    assert (prediction.action, prediction.policy) == ("utter_happy", "memo")


def test_memoization_looks_back_max_history_states(tmp_path):
    """With max_history 2 only the last two states count: what came before does not."""
    bot = policy(tmp_path, MOOD_DOMAIN, MOOD_STORIES, max_history=2)
    other_start = [*said("goodbye"), action("utter_goodbye"), *said("mood_unhappy"), action("utter_cheer_up")]
    assert bot.predict(other_start).action == "utter_did_that_help"


def test_stories_joined_by_a_checkpoint(tmp_path):
    bot = policy(tmp_path, MOOD_DOMAIN, """
        stories:
        - story: greet, then ask
          steps:
          - intent: greet
          - action: utter_greet
          - checkpoint: asked_mood
        - story: the mood is good
          steps:
          - checkpoint: asked_mood
          - intent: mood_great
          - action: utter_happy
        - story: the mood is bad
          steps:
          - checkpoint: asked_mood
          - intent: mood_unhappy
          - action: utter_cheer_up
        """)
    start = [*said("greet"), action("utter_greet")]
    assert next_action(bot, said("greet")) == "utter_greet"
    assert next_action(bot, start) == LISTEN  # a checkpoint does not end the turn; the next story listens
    assert next_action(bot, [*start, *said("mood_great")]) == "utter_happy"
    assert next_action(bot, [*start, *said("mood_unhappy")]) == "utter_cheer_up"
    assert next_action(bot, [*start, *said("mood_unhappy"), action("utter_cheer_up")]) == LISTEN


def test_a_story_that_starts_at_a_checkpoint_is_not_a_conversation_start(tmp_path):
    """Rasa only starts trackers from STORY_START: a story beginning at a checkpoint nobody reaches
    is not trained from the start of a conversation."""
    bot = policy(tmp_path, MOOD_DOMAIN, """
        stories:
        - story: orphan
          steps:
          - checkpoint: nowhere
          - intent: mood_great
          - action: utter_happy
        """)
    assert next_action(bot, said("mood_great")) is None


def test_a_story_with_entities(tmp_path):
    domain = {"intents": ["search"], "entities": ["city", "color"],
              "responses": responses("utter_ask_city", "utter_search_city")}
    bot = policy(tmp_path, domain, """
        stories:
        - story: no city yet
          steps:
          - intent: search
          - action: utter_ask_city
        - story: a city given
          steps:
          - intent: search
            entities:
            - city: Paris
          - action: utter_search_city
        """)
    assert next_action(bot, said("search")) == "utter_ask_city"
    assert next_action(bot, said("search", city="Berlin")) == "utter_search_city"  # the entity, not its value
    assert next_action(bot, said("search", city="Rome", planet="Mars")) == "utter_search_city"  # not in the domain


def test_entity_roles_are_part_of_the_state(tmp_path):
    domain = {"intents": ["travel"], "entities": [{"city": {"roles": ["from", "to"]}}],
              "responses": responses("utter_ask_destination", "utter_ask_origin")}
    bot = policy(tmp_path, domain, """
        stories:
        - story: leaving from somewhere
          steps:
          - intent: travel
            entities:
            - entity: city
              role: from
              value: Paris
          - action: utter_ask_destination
        - story: going somewhere
          steps:
          - intent: travel
            entities:
            - entity: city
              role: to
              value: Rome
          - action: utter_ask_origin
        """)
    leaving = [listen(), {"event": "user", "intent": "travel", "entities": [{"entity": "city", "value": "Oslo",
                                                                              "role": "from"}]}]
    going = [listen(), {"event": "user", "intent": "travel", "entities": [{"entity": "city", "value": "Oslo",
                                                                            "role": "to"}]}]
    assert next_action(bot, leaving) == "utter_ask_destination"
    assert next_action(bot, going) == "utter_ask_origin"


def test_an_entity_the_intent_ignores_does_not_count(tmp_path):
    domain = {"intents": [{"search": {"ignore_entities": ["city"]}}], "entities": ["city"],
              "responses": responses("utter_ask_city", "utter_search_city")}
    bot = policy(tmp_path, domain, """
        stories:
        - story: search
          steps:
          - intent: search
          - action: utter_ask_city
        """)
    assert next_action(bot, said("search", city="Paris")) == "utter_ask_city"


def test_a_story_entity_fills_its_slot_as_at_run_time(tmp_path):
    domain = {"intents": ["order"], "entities": ["product"], "responses": responses("utter_ok"),
              "slots": {"product": {"type": "text", "mappings": [{"type": "from_entity", "entity": "product"}]}}}
    bot = policy(tmp_path, domain, """
        stories:
        - story: order a product
          steps:
          - intent: order
            entities:
            - product: shoes
          - action: utter_ok
        """)
    live = [listen(), user("order", product="shoes"), slot("product", "shoes")]  # as the engine fills it
    assert next_action(bot, live) == "utter_ok"


CONTRADICTING_STORIES = """
stories:
- story: one
  steps:
  - intent: greet
  - action: utter_greet
- story: other
  steps:
  - intent: greet
  - action: utter_happy
- story: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


def test_contradicting_stories_are_not_memorised(tmp_path):
    bot = policy(tmp_path, MOOD_DOMAIN, CONTRADICTING_STORIES)
    assert bot.predict(said("greet")).policy != "memo"
    assert next_action(bot, said("goodbye")) == "utter_goodbye"


def test_contradicting_stories_predict_nothing_there(tmp_path):
    bot = policy(tmp_path, MOOD_DOMAIN, CONTRADICTING_STORIES)
    assert next_action(bot, said("greet")) is None


def test_contradicting_rules_keep_the_first_and_warn(tmp_path, caplog):
    bot = policy(tmp_path, {"intents": ["greet"], "responses": responses("utter_greet", "utter_happy")}, """
        rules:
        - rule: one
          steps:
          - intent: greet
          - action: utter_greet
        - rule: other
          steps:
          - intent: greet
          - action: utter_happy
        """)
    assert next_action(bot, said("greet")) == "utter_greet"
    assert "rules contradict" in caplog.text
    assert bot.rules.contradictions


def test_rules_win_over_stories(tmp_path):
    bot = policy(tmp_path, MOOD_DOMAIN, """
        rules:
        - rule: goodbye
          steps:
          - intent: goodbye
          - action: utter_goodbye
        stories:
        - story: goodbye differently
          steps:
          - intent: goodbye
          - action: utter_happy
        """)
    assert bot.predict(said("goodbye")).policy == "rule"
    assert next_action(bot, said("goodbye")) == "utter_goodbye"


# -- slots in the dialogue state ------------------------------------------------------------

SLOT_DOMAIN = {
    "intents": ["check"],
    "actions": ["action_check"],
    "slots": {
        "vip": {"type": "bool"},
        "tier": {"type": "categorical", "values": ["gold", "silver"]},
        "name": {"type": "text"},
        "note": {"type": "text", "influence_conversation": False},
        "blob": {"type": "any"},
    },
    "responses": responses("utter_vip", "utter_regular", "utter_gold", "utter_silver", "utter_named",
                           "utter_anonymous"),
}


def check_story(name: str, value, answer: str) -> str:
    return f"""
- story: {name} {value} -> {answer}
  steps:
  - intent: check
  - action: action_check
  - slot_was_set:
    - {name}: {value}
  - action: {answer}
"""


def checked(*slots) -> list[dict]:
    return [*said("check"), action("action_check"), *slots]


def test_a_bool_slot_is_featurized_by_its_truth(tmp_path):
    bot = policy(tmp_path, SLOT_DOMAIN, "stories:\n" + check_story("vip", "true", "utter_vip")
                 + check_story("vip", "false", "utter_regular"))
    assert next_action(bot, checked(slot("vip", True))) == "utter_vip"
    assert next_action(bot, checked(slot("vip", False))) == "utter_regular"
    assert next_action(bot, checked(slot("vip", "true"))) == "utter_vip"


def test_a_categorical_slot_is_featurized_by_its_value(tmp_path):
    bot = policy(tmp_path, SLOT_DOMAIN, "stories:\n" + check_story("tier", "gold", "utter_gold")
                 + check_story("tier", "silver", "utter_silver"))
    assert next_action(bot, checked(slot("tier", "gold"))) == "utter_gold"
    assert next_action(bot, checked(slot("tier", "Silver"))) == "utter_silver"  # Rasa lower-cases both


def test_unlisted_categorical_values_are_one_state(tmp_path):
    bot = policy(tmp_path, SLOT_DOMAIN, "stories:\n" + check_story("tier", "bronze", "utter_regular"))
    assert next_action(bot, checked(slot("tier", "platinum"))) == "utter_regular"


def test_a_text_slot_is_featurized_as_set_or_not(tmp_path):
    bot = policy(tmp_path, SLOT_DOMAIN, "stories:\n" + check_story("name", "Ann", "utter_named") + """
- story: no name
  steps:
  - intent: check
  - action: action_check
  - action: utter_anonymous
""")
    assert next_action(bot, checked(slot("name", "Bob"))) == "utter_named"
    assert next_action(bot, checked()) == "utter_anonymous"


def test_slots_that_do_not_influence_the_conversation_are_ignored(tmp_path):
    bot = policy(tmp_path, SLOT_DOMAIN, """
        stories:
        - story: check
          steps:
          - intent: check
          - action: action_check
          - action: utter_anonymous
        """)
    assert next_action(bot, checked(slot("note", "x"), slot("blob", {"a": 1}))) == "utter_anonymous"
    assert bot.predict(checked(slot("note", "x"))).policy == "memo"  # an exact match, not a shorter window


def test_a_slot_condition_on_a_categorical_value(tmp_path):
    bot = policy(tmp_path, SLOT_DOMAIN, """
        rules:
        - rule: gold
          condition:
          - slot_was_set:
            - tier: gold
          steps:
          - intent: check
          - action: utter_gold
        - rule: silver
          condition:
          - slot_was_set:
            - tier: silver
          steps:
          - intent: check
          - action: utter_silver
        """)
    assert next_action(bot, [slot("tier", "gold"), *said("check")]) == "utter_gold"
    assert next_action(bot, [slot("tier", "silver"), *said("check")]) == "utter_silver"
    assert next_action(bot, said("check")) is None


def test_a_rule_ignores_slots_it_does_not_mention_even_with_initial_values(tmp_path):
    domain = {"intents": ["greet"], "responses": responses("utter_greet"),
              "slots": {"tier": {"type": "categorical", "values": ["basic", "gold"], "initial_value": "basic"}}}
    bot = policy(tmp_path, domain, """
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet
        """)
    assert next_action(bot, said("greet")) == "utter_greet"
    assert next_action(bot, [slot("tier", "gold"), *said("greet")]) == "utter_greet"


def test_a_float_slot_is_capped_to_its_range(tmp_path):
    domain = {**SLOT_DOMAIN, "slots": {"score": {"type": "float"}}}
    bot = policy(tmp_path, domain, "stories:\n" + check_story("score", 5, "utter_vip"))
    assert next_action(bot, checked(slot("score", 10))) == "utter_vip"


def test_a_story_that_forgot_the_form_does_not_leave_it_waiting(tmp_path):
    """Two interruptions in a form: the second is recalled only by a story from before the form (the
    augmented memoization forgets the form with the events before it). Its "wait" would leave the
    rejected form silent; the form asks again instead, as after a general rule (helpdesk-assistant)."""
    ensemble = policy(tmp_path, {"intents": ["ask", "help", "oos"], "forms": {"f": {"required_slots": []}},
                                 "responses": responses("utter_help", "utter_oos")}, """
        rules:
        - rule: start
          steps:
          - intent: ask
          - action: f
          - active_loop: f
        stories:
        - story: help in the form
          steps:
          - intent: ask
          - action: f
          - active_loop: f
          - intent: help
          - action: utter_help
          - action: f
        - story: out of scope
          steps:
          - intent: oos
          - action: utter_oos
        """, max_history=4)
    events = [*SESSION_START, *said("ask"), action("f"), loop("f"), *said("help"), rejected("f"),
              action("utter_help"), action("f"), *said("oos"), rejected("f"), action("utter_oos")]
    prediction = ensemble.predict(events)
    assert (prediction.action, prediction.interrupted_loop) == ("f", True)
