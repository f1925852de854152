"""Running Rasa test stories (`shopkeep test`): does the bot still do what the stories say?

Each test story is read as Rasa writes them: `intent:` steps (with the `user:` text and its entity
annotations, or `entities:`), then the actions expected. As Rasa's `rasa test` does, the story is
walked step by step:
  - a user step's text is parsed by the intent model and compared with the story's intent (a
    retrieval intent `faq/x` counts as `faq` when the story says `faq`) and its entities (those the
    domain declares); the story's own intent and entities then go on the tracker;
  - before each expected action, the next action is predicted from the tracker so far (rules,
    stories, forms; the fallback when nothing decides) and compared; the expected action then goes
    on the tracker. Actions are predicted, not run: no action server is needed, as in Rasa.
    When the active form is predicted but the story has another action, the form is taken to have
    rejected the message and the prediction is made again (Rasa's emulate_loop_rejection).

A story passes when every intent, entity and action matches. Source: Rasa 3.x rasa/core/test.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.dialogue.engine import Dialogue
from bot.dialogue.policy import user_intent
from bot.dialogue.stories import ACTION_LISTEN, block_events, read_dialogue_file
from bot.yaml_files import yaml_files

# The events Rasa's default actions add, which a story lists only as the action.
DEFAULT_ACTION_EVENTS = {"action_restart": [{"event": "restart"}],
                         "action_session_start": [{"event": "session_started"}],
                         "action_default_fallback": [{"event": "rewind"}],
                         "action_back": [{"event": "rewind"}, {"event": "rewind"}]}
# Entities Rasa projects get from Duckling (config.yml DucklingEntityExtractor dimensions).
DUCKLING_DIMENSIONS = {"number", "email", "amount-of-money", "time", "phone-number", "url", "distance", "duration",
                       "ordinal", "temperature", "volume"}


@dataclass
class StoryResult:
    story: str
    passed: bool
    first_difference: str | None
    needs: str | None = None  # an extractor the difference comes from that shopkeep does not have

    def as_dict(self) -> dict:
        return {"story": self.story, "passed": self.passed, "first_difference": self.first_difference}


def story_files(paths) -> list[Path]:
    """The YAML files with `stories:` among `paths` (files or folders)."""
    return [p for p in yaml_files(paths) if read_dialogue_file(p, test=True).stories]


def run_test_stories(dialogue: Dialogue, parse, paths, duckling: set[str] = frozenset()) -> list[StoryResult]:
    """One result per test story (per `or` alternative, named "story (2)"...) in `paths`.
    `parse`: text -> Rasa parse data (blocking). `duckling`: the entity names the project's
    config.yml gets from Duckling, for telling those differences apart."""
    results = []
    for file in story_files(paths):
        for block in read_dialogue_file(file, test=True).stories:
            for n, events in enumerate(block_events(block)):
                name = block.name if n == 0 else f"{block.name} ({n + 1})"
                results.append(_run_story(dialogue, parse, name, events + [{"event": "action", "name": ACTION_LISTEN}],
                                          duckling))
    return results


def _run_story(dialogue: Dialogue, parse, name: str, gold: list[dict], duckling: set[str]) -> StoryResult:
    entities = set(dialogue.domain.entities)
    tracker: list[dict] = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}]
    retrieval_key = None  # the latest user message's retrieval intent ("faq/returns"), for utter_faq
    for step, event in enumerate(gold, 1):
        kind = event.get("event")
        if kind == "action":
            predicted = predict_action(dialogue, tracker, event["name"])
            if predicted and retrieval_key and dialogue.domain.retrieval_responses(predicted) \
                    and event["name"].startswith(predicted + "/"):
                predicted = f"utter_{retrieval_key}"  # the response the retrieval action chose, as Rasa names it
            if predicted != event["name"]:
                return StoryResult(name, False, f"step {step}: expected action '{event['name']}', "
                                                f"predicted '{predicted}'")
            tracker.append(event)
            tracker.extend(DEFAULT_ACTION_EVENTS.get(event["name"], ()))  # what a default action does
            continue
        if kind == "user":
            retrieval_key = event.get("intent") if "/" in str(event.get("intent")) else None
        if kind == "user" and event.get("text"):
            parsed = parse(event["text"])
            got = parsed["intent"].get("full_retrieval_intent_name") or parsed["intent"]["name"]
            retrieval_key = got if "/" in got else retrieval_key
            wanted = event.get("intent")
            if wanted and got != wanted and (("/" in wanted) or user_intent({"intent": got}) != wanted):
                return StoryResult(name, False, f"step {step}: user '{event['text']}': expected intent '{wanted}', "
                                                f"predicted '{got}'")
            expected = {(e["entity"], str(e.get("value", "")).casefold()) for e in event.get("entities") or []
                        if e.get("entity") in entities}
            found = {(e["entity"], str(e.get("value", "")).casefold()) for e in parsed.get("entities") or []
                     if e.get("entity") in entities}
            if expected != found:
                missing = sorted({e for e, _ in expected} - {e for e, _ in found})
                needs = "Duckling" if missing and set(missing) <= duckling else None
                note = f" (from {needs}, which shopkeep does not run)" if needs else ""
                return StoryResult(name, False, f"step {step}: user '{event['text']}': expected entities "
                                                f"{sorted(expected)}, found {sorted(found)}{note}", needs)
        tracker.append(event)
    return StoryResult(name, True, None)


def predict_action(dialogue: Dialogue, tracker: list[dict], expected: str | None = None) -> str | None:
    """The action the bot would take next on `tracker` (which gets an action_execution_rejected
    event when the form's prediction is passed over for `expected`)."""
    policy = dialogue.policy
    prediction = policy.predict(tracker)
    if prediction.action != expected and prediction.action and prediction.action == prediction.tracker.active_loop:
        tracker.append({"event": "action_execution_rejected", "name": prediction.action})
        prediction = policy.predict(tracker)
    if prediction.action:
        return prediction.action
    state = prediction.tracker
    return dialogue.unpredicted_action(state, (state.latest_message or {}).get("intent")) or ACTION_LISTEN
