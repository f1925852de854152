"""Predicting the next action from the conversation so far, as Rasa's rule and
memoization policies predict it.

A conversation (a tracker) is read as a list of states, one before each action
and one for now. A state holds what Rasa's featurizer puts in it:

  user         the latest user message's intent and entities (names, with roles and groups)
  prev_action  the last action
  active_loop  the active form
  slots        the slots that influence the conversation, featurized by type

Rules (RulePolicy) match the end of the conversation against their own states,
which hold only what the rule says; the most specific matching rule wins.
Stories (AugmentedMemoizationPolicy) are memorised as windows of `max_history`
states. When no window matches exactly, shorter windows of the latest states
are tried, longest first: this stands in for Rasa's TEDPolicy, which shopkeep
does not train (it generalises the same stories, but not deterministically).
An active form is predicted after every user message unless it rejected the
message; then rules and stories decide (Rasa's loop happy and unhappy paths).

Source: Rasa 3.x rasa/core/policies/rule_policy.py, memoization.py and
rasa/shared/core/domain.py (get_active_state); behaviour checked on the test
stories of RasaHQ/retail-demo and RasaHQ/helpdesk-assistant (bench/rasa_projects.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from bot.dialogue.stories import (
    ACTION_LISTEN,
    RULE_SNIPPET,
    SET,
    SHOULD_NOT_BE_SET,
    DialogueData,
    block_events,
    story_paths,
)

log = logging.getLogger(__name__)

# Rasa's default actions, known to every domain.
ACTION_RESTART = "action_restart"
ACTION_SESSION_START = "action_session_start"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
ACTION_BACK = "action_back"
ACTION_UNLIKELY_INTENT = "action_unlikely_intent"
ACTION_DEFAULT_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_DEFAULT_ASK_REPHRASE = "action_default_ask_rephrase"
ACTION_EXTRACT_SLOTS = "action_extract_slots"
DEFAULT_ACTIONS = (ACTION_LISTEN, ACTION_RESTART, ACTION_SESSION_START, ACTION_DEFAULT_FALLBACK,
                   ACTION_DEACTIVATE_LOOP, ACTION_TWO_STAGE_FALLBACK, ACTION_BACK, ACTION_UNLIKELY_INTENT,
                   ACTION_DEFAULT_ASK_AFFIRMATION, ACTION_DEFAULT_ASK_REPHRASE, ACTION_EXTRACT_SLOTS)
# Intents Rasa answers with a default action whatever the rules say (`/restart`, `/back`, `/session_start`).
DEFAULT_INTENT_ACTIONS = {"restart": ACTION_RESTART, "back": ACTION_BACK, "session_start": ACTION_SESSION_START}

LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"
DEFAULT_MAX_HISTORY = 5  # Rasa's MemoizationPolicy default


# -- trackers and states ---------------------------------------------------------


@dataclass
class TrackerState:
    """What a replay of events leaves: slots, the active form, the latest user message and action."""

    slots: dict = field(default_factory=dict)
    active_loop: str | None = None
    loop_rejected: bool = False
    latest_message: dict | None = None  # {"intent", "entities"}
    latest_action: str | None = None


def applied_events(events: list[dict]) -> list[dict]:
    """The events that still count, as Rasa's tracker.applied_events: a restart or a new session
    forgets everything before it; `rewind` (UserUtteranceReverted) undoes back to before the latest
    user message; `undo` (ActionReverted) undoes the latest action."""
    applied: list[dict] = []
    for event in events:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            applied = []
        elif kind in ("rewind", "undo"):  # back to before the latest user message, or action
            undone = "user" if kind == "rewind" else "action"
            while applied and applied[-1].get("event") != undone:
                applied.pop()
            if applied:
                applied.pop()
        else:
            applied.append(event)
    return applied


def user_intent(event: dict) -> str | None:
    """The intent of a user event, from training (`intent`) or a live conversation (`parse_data`);
    a retrieval intent's sub-intent ("faq/returns") counts as its base intent ("faq")."""
    name = event.get("intent")
    if name is None:
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return name.split("/")[0] if isinstance(name, str) else name


def user_entities(event: dict) -> list[dict]:
    entities = event.get("entities")
    if entities is None:
        entities = (event.get("parse_data") or {}).get("entities") or []
    return entities


class Featurizer:
    """Turns events into Rasa's states for one domain (its slots, entities and intents' use_entities)."""

    def __init__(self, domain):
        self.domain = domain
        self.slot_specs = domain.slots
        self.entities = set(domain.entities)
        self.initial = domain.initial_slots
        self.entity_slots: dict[str, list[str]] = {}  # entity -> slots an unconditional mapping fills with it
        for name, spec in self.slot_specs.items():
            for mapping in spec.get("mappings") or []:
                if (mapping.get("type") == "from_entity" and mapping.get("entity") and not mapping.get("conditions")
                        and not mapping.get("intent") and not mapping.get("not_intent")
                        and not mapping.get("role") and not mapping.get("group")):
                    self.entity_slots.setdefault(mapping["entity"], []).append(name)

    def slot_feature(self, name: str, value):
        """The slot's feature in a state, or None when it does not count (unset, or not influencing)."""
        spec = self.slot_specs.get(name)
        if spec is None or value is None:
            return None
        kind = spec.get("type", "text")
        if kind == "any" or not spec.get("influence_conversation", kind != "any"):
            return None
        if value == SHOULD_NOT_BE_SET:
            return SHOULD_NOT_BE_SET
        if kind == "bool":
            truth = True if value == SET else (value.strip().lower() in ("true", "yes", "1")
                                               if isinstance(value, str) else bool(value))
            return [1.0, 1.0 if truth else 0.0]
        if kind == "categorical":  # a value the slot does not list is Rasa's one "__other__" value
            listed = {str(v).lower() for v in spec.get("values") or []}
            return ["set"] if value == SET else [str(value).lower() if str(value).lower() in listed else "__other__"]
        if kind == "float":  # Rasa: [set, the value capped to min_value..max_value and scaled to 0..1]
            low, high = float(spec.get("min_value", 0.0)), float(spec.get("max_value", 1.0))
            try:
                number = 1.0 if value == SET else float(value)
            except (TypeError, ValueError):
                return None
            return [1.0, round((min(max(number, low), high) - low) / ((high - low) or 1.0), 3)]
        if kind == "list":
            return [1.0] if value else None
        return [1.0]  # text and custom types: set or not

    def entity_features(self, intent: str | None, entities: list[dict]) -> list[str]:
        """The entity names in a state: domain entities the intent uses, with `#role` and `#group`."""
        names = set()
        for entity in entities:
            name = entity.get("entity")
            if name not in self.entities or not self.domain.intent_uses_entity(intent, name):
                continue
            names.add(name)
            for key in ("role", "group"):
                if entity.get(key):
                    names.add(f"{name}#{entity[key]}")
        return sorted(names)

    def state(self, tracker: TrackerState) -> dict:
        state: dict = {}
        if tracker.latest_message is not None:
            user = {"intent": tracker.latest_message["intent"]}
            entities = self.entity_features(tracker.latest_message["intent"], tracker.latest_message["entities"])
            if entities:
                user["entities"] = entities
            state["user"] = user
        if tracker.latest_action is not None:
            state["prev_action"] = {"action_name": tracker.latest_action}
        if tracker.active_loop:
            state["active_loop"] = {"name": tracker.active_loop}
        slots = {name: feature for name, value in tracker.slots.items()
                 if (feature := self.slot_feature(name, value)) is not None}
        if slots:
            state["slots"] = slots
        return state

    def replay(self, events: list[dict], initial_slots: bool = True) -> tuple[list[dict], list[str], TrackerState]:
        """(the state before each action and the state now, the actions in order, the final tracker).
        `initial_slots`: start from the slots' initial values (not for rules, whose states hold only the
        slots they set, as Rasa's omit_unset_slots). A user message's entities fill the slots that map
        them unconditionally (`from_entity` without conditions or intents), as Rasa's story reader adds
        those slot events; a conversation records the same events itself."""
        tracker = TrackerState(slots=dict(self.initial) if initial_slots else {})
        states, actions = [], []
        for event in applied_events(events):
            kind = event.get("event")
            if kind == "action":
                states.append(self.state(tracker))
                actions.append(event["name"])
                tracker.latest_action = event["name"]
                if event["name"] == tracker.active_loop:
                    tracker.loop_rejected = False
            elif kind == "user":
                tracker.latest_message = {"intent": user_intent(event), "entities": user_entities(event)}
                for entity in tracker.latest_message["entities"]:
                    for slot in self.entity_slots.get(entity.get("entity"), ()):
                        if entity.get("value") is not None:
                            tracker.slots[slot] = entity["value"]
            elif kind == "slot":
                tracker.slots[event["name"]] = event.get("value")
            elif kind == "reset_slots":
                tracker.slots = dict(self.initial)
            elif kind == "active_loop":
                name = event.get("name")
                tracker.active_loop = name  # (in a rule, `null` is SHOULD_NOT_BE_SET: the state says so)
                tracker.loop_rejected = False
            elif kind == "action_execution_rejected":
                if event.get("name") == tracker.active_loop:
                    tracker.loop_rejected = True
        states.append(self.state(tracker))
        return states, actions, tracker


def _key(states: list[dict]) -> str:
    return json.dumps(states, sort_keys=True)


def _is_snippet(state: dict) -> bool:
    return (state.get("prev_action") or {}).get("action_name") == RULE_SNIPPET


# -- the policies ---------------------------------------------------------------------


@dataclass
class Prediction:
    action: str | None
    policy: str  # "default", "loop", "rule", "memo", "memo_window" or "none"
    source: str = ""  # the rule's or story's name
    interrupted_loop: bool = False  # the form runs again after an unhappy path: it must not validate
    tracker: TrackerState | None = None  # the conversation it was predicted on (PolicyEnsemble.predict)

    def __bool__(self) -> bool:
        return self.action is not None


class RulePolicy:
    """Rasa's RulePolicy: rules as partial states, matched against the end of the conversation."""

    def __init__(self, featurizer: Featurizer, data: DialogueData):
        self.featurizer = featurizer
        self.lookup: dict[str, tuple[str, str]] = {}  # key -> (action, rule name)
        self.unhappy: dict[str, str] = {}
        self.contradictions: list[str] = []
        for rule in data.rules:
            for events in block_events(rule):
                states, actions, _ = featurizer.replay(events, initial_slots=False)
                for k, action in enumerate(actions):
                    if action == RULE_SNIPPET:
                        continue
                    key = self._feature_key(states[:k + 1])
                    if key is None:
                        continue
                    if key in self.lookup and self.lookup[key][0] != action:
                        self.contradictions.append(f"rule '{rule.name}' predicts '{action}' where rule "
                                                   f"'{self.lookup[key][1]}' predicts '{self.lookup[key][0]}'")
                        continue
                    self.lookup.setdefault(key, (action, rule.name))
                self._add_unhappy(states, actions)
        for _, events in story_paths(data.stories):
            states, actions, _ = featurizer.replay(events)
            self._add_unhappy(states, actions)
        self._parsed = {key: json.loads(key) for key in self.lookup}
        self._parsed_unhappy = {key: json.loads(key) for key in self.unhappy}

    @staticmethod
    def _feature_key(states: list[dict]) -> str | None:
        kept: list[dict] = []
        for state in reversed(states):
            if _is_snippet(state):
                break
            kept.insert(0, state)
        return _key(kept) if kept else None

    def _add_unhappy(self, states: list[dict], actions: list[str]) -> None:
        for k, action in enumerate(actions):
            window = states[:k + 1]
            loop = (window[-1].get("active_loop") or {}).get("name")
            if not loop or loop == SHOULD_NOT_BE_SET:
                continue
            if len(window) > 1 and window[-2].get("prev_action"):
                window = [{"prev_action": window[-2]["prev_action"]}, window[-1]]
            else:
                window = [window[-1]]
            key = self._feature_key(window)
            if key is None:
                continue
            after_listen = (window[-1].get("prev_action") or {}).get("action_name") == ACTION_LISTEN
            if after_listen and action == loop:
                self.unhappy[key] = LOOP_WAS_INTERRUPTED
            elif not after_listen and action != loop:
                self.unhappy[key] = DO_NOT_PREDICT_LOOP_ACTION

    @staticmethod
    def _matches(rule_state: dict, state: dict) -> bool:
        for part, wanted in rule_state.items():
            have = state.get(part) or {}
            for key, value in wanted.items():
                got = have.get(key)
                if value == SHOULD_NOT_BE_SET:
                    if got and got != SHOULD_NOT_BE_SET:
                        return False
                elif value and got != value:
                    return False
        return True

    def _applicable(self, rule_states: list[dict], states: list[dict]) -> bool:
        if len(rule_states) > len(states):
            return False
        for rule_state, state in zip(reversed(rule_states), reversed(states)):
            rule_prev, prev = rule_state.get("prev_action"), state.get("prev_action")
            if not rule_prev and not prev:
                continue
            if not rule_prev or not prev:
                return False
            if not self._matches(rule_state, state):
                return False
        return True

    def _matching(self, parsed: dict[str, list], states: list[dict]) -> list[str]:
        return [key for key, rule_states in parsed.items() if self._applicable(rule_states, states)]

    def predict(self, states: list[dict], tracker: TrackerState) -> Prediction:
        prev = tracker.latest_action
        intent = (tracker.latest_message or {}).get("intent")
        if prev == ACTION_LISTEN and intent in DEFAULT_INTENT_ACTIONS:
            return Prediction(DEFAULT_INTENT_ACTIONS[intent], "default", intent)
        loop = tracker.active_loop
        if loop and not tracker.loop_rejected:
            return Prediction(ACTION_LISTEN if prev == loop else loop, "loop", loop)
        keys = self._matching(self._parsed, states)
        action, name, best = None, "", ""
        if keys:
            best = max(keys, key=len)
            action, name = self.lookup[best]
        interrupted = False
        if loop:
            conditions = {self.unhappy[k] for k in self._matching(self._parsed_unhappy, states)}
            general_listen = action == ACTION_LISTEN and not (self._parsed[best][-1].get("active_loop") or {})
            if general_listen:
                if DO_NOT_PREDICT_LOOP_ACTION not in conditions:
                    return Prediction(loop, "rule", name, True)
                action = None
            interrupted = LOOP_WAS_INTERRUPTED in conditions
        return Prediction(action, "rule", name, interrupted) if action else Prediction(None, "none")


class MemoizationPolicy:
    """Rasa's (Augmented)MemoizationPolicy over the stories: windows of `max_history` states, exact,
    then (augmented) the conversation replayed from later actions on, then shorter windows."""

    def __init__(self, featurizer: Featurizer, data: DialogueData, max_history: int = DEFAULT_MAX_HISTORY):
        self.featurizer = featurizer
        self.max_history = max_history
        self.lookup: dict[str, tuple[str, str]] = {}
        self.windows: dict[int, dict[str, set[str]]] = {}  # length -> last states -> actions
        names: dict[str, str] = {}
        contradicted: set[str] = set()
        for name, events in story_paths(data.stories):
            states, actions, _ = featurizer.replay(events)
            for k, action in enumerate(actions):
                window = states[max(0, k + 1 - max_history):k + 1]
                key = _key(window)
                for n in range(1, len(window) + 1):
                    self.windows.setdefault(n, {}).setdefault(_key(window[-n:]), set()).add(action)
                if key in contradicted:
                    continue
                if key in self.lookup and self.lookup[key][0] != action:
                    del self.lookup[key]
                    contradicted.add(key)
                    continue
                self.lookup[key] = (action, name)
                names.setdefault(action, name)
        self._names = names

    def predict(self, states: list[dict], events: list[dict], tracker: TrackerState) -> Prediction:
        """`states` and `tracker`: `events` replayed (Featurizer.replay)."""
        key = _key(states[-self.max_history:])
        if key in self.lookup:
            return Prediction(self.lookup[key][0], "memo", self.lookup[key][1])
        # augmented: forget the conversation before each later action in the window, in turn
        applied = applied_events(events)
        action_at = [i for i, e in enumerate(applied) if e.get("event") == "action"]
        for start in action_at[-self.max_history:]:
            truncated, _, forgot = self.featurizer.replay(applied[start:])
            found = self.lookup.get(_key(truncated[-self.max_history:]))
            if found:
                active = tracker.active_loop
                if found[0] == ACTION_LISTEN and active and not forgot.active_loop:
                    # a story that knows nothing of the form (the form was forgotten with the events before
                    # it) says to wait: the form asks again, as after a general rule (Rasa's RulePolicy)
                    return Prediction(active, "memo", found[1], True)
                return Prediction(found[0], "memo", found[1])
        # shorter windows of the latest states, longest first, when they lead to one action only
        for n in range(min(self.max_history, len(states)) - 1, 0, -1):
            actions = self.windows.get(n, {}).get(_key(states[-n:]))
            if actions and len(actions) == 1:
                action = next(iter(actions))
                return Prediction(action, "memo_window", self._names.get(action, ""))
        return Prediction(None, "none")


class PolicyEnsemble:
    """Rules first (with defaults and the loop's happy path), then stories, as Rasa's ensemble ranks
    RulePolicy over MemoizationPolicy. `predict` returns Prediction(None, "none") when neither decides."""

    def __init__(self, domain, data: DialogueData, max_history: int = DEFAULT_MAX_HISTORY):
        self.featurizer = Featurizer(domain)
        self.rules = RulePolicy(self.featurizer, data)
        self.memo = MemoizationPolicy(self.featurizer, data, max_history)
        for problem in self.rules.contradictions:
            log.warning("rules contradict: %s; the first one is kept", problem)

    def predict(self, events: list[dict]) -> Prediction:
        """The next action; the Prediction carries the replayed conversation (`tracker`)."""
        states, _, tracker = self.featurizer.replay(events)
        prediction = self.rules.predict(states, tracker)
        if not prediction:
            prediction = self.memo.predict(states, events, tracker)
            if prediction.action == tracker.active_loop and tracker.loop_rejected \
                    and tracker.latest_action == ACTION_LISTEN:
                prediction = Prediction(None, "none")
        prediction.tracker = tracker
        return prediction

    def tracker(self, events: list[dict]) -> TrackerState:
        return self.featurizer.replay(events)[2]
