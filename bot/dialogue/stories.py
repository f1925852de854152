"""Reading Rasa's rules and stories (and test stories) into event sequences.

A rule or story is a list of steps (`intent`, `action`, `slot_was_set`,
`active_loop`, `or`, `checkpoint`); this module turns each into one or more
flat sequences of training events, as Rasa's story reader and story graph do:

  {"event": "action", "name": A}          an action ran ("action_listen" before every user step)
  {"event": "user", "intent": I, "entities": [...], "text": T}
  {"event": "slot", "name": S, "value": V}
  {"event": "active_loop", "name": F or None}

In rules, `active_loop: null` and `slot_was_set: {s: null}` mean "must not be
set" (SHOULD_NOT_BE_SET), a rule without `conversation_start: true` begins
with the snippet action `...` (anything may come before it), and one with
`wait_for_user_input: false` ends with `...` instead of action_listen.
`or` steps expand into one sequence per alternative; stories joined by
checkpoints expand into every path through them (bounded by MAX_PATHS).

Source: Rasa 3.x YAMLStoryReader and StoryStep.explicit_events (rasa.shared.core.training_data).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.nlu.training_data import parse_annotated
from bot.yaml_files import read_yaml

log = logging.getLogger(__name__)

ACTION_LISTEN = "action_listen"
RULE_SNIPPET = "..."  # Rasa's RULE_SNIPPET_ACTION_NAME: any conversation may come before (or after) it
SHOULD_NOT_BE_SET = "should_not_be_set"  # Rasa's value for `null` in rule conditions and steps
SET = "__set__"  # a story's `slot_was_set: [name]` without a value: set to something
MAX_PATHS = 2000  # at most this many sequences from one story's `or` steps and checkpoints
STORY_START = "STORY_START"


class StoriesError(Exception):
    """A rules or stories file cannot be used; the message names the file and the rule or story."""


@dataclass
class Block:
    """One rule or story as written: its name, file, and steps (conditions first for a rule)."""

    name: str
    source: str
    steps: list
    kind: str  # "rule", "story" or "test"
    condition: list = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True

    @property
    def start_checkpoints(self) -> list[str]:
        return _leading_checkpoints(self.steps)

    @property
    def end_checkpoints(self) -> list[str]:
        return _leading_checkpoints(reversed(self.steps))


def _leading_checkpoints(steps) -> list[str]:
    """The names of the `checkpoint` steps `steps` begins with."""
    return [step["checkpoint"] for step in itertools.takewhile(
        lambda step: isinstance(step, dict) and "checkpoint" in step, steps)]


@dataclass
class DialogueData:
    """Every rule and story of a project (and its test stories, read separately)."""

    rules: list[Block] = field(default_factory=list)
    stories: list[Block] = field(default_factory=list)

    def extend(self, other: "DialogueData") -> None:
        self.rules.extend(other.rules)
        self.stories.extend(other.stories)


def read_dialogue_file(path: str | Path, test: bool = False) -> DialogueData:
    """The rules and stories of one YAML file (either key may be absent). Raises StoriesError."""
    path = Path(path)
    raw = read_yaml(path, StoriesError) or {}
    if not isinstance(raw, dict):
        raise StoriesError(f"{path}: expected a mapping with 'rules:' or 'stories:'")
    data = DialogueData()
    for item in raw.get("rules") or []:
        if not isinstance(item, dict) or "rule" not in item:
            raise StoriesError(f"{path}: each item under 'rules' needs a 'rule:' name, got {item!r}")
        data.rules.append(Block(str(item["rule"]), str(path), _steps(item, path, "rule"), "rule",
                                condition=list(item.get("condition") or []),
                                conversation_start=bool(item.get("conversation_start", False)),
                                wait_for_user_input=bool(item.get("wait_for_user_input", True))))
    for item in raw.get("stories") or []:
        if not isinstance(item, dict) or "story" not in item:
            raise StoriesError(f"{path}: each item under 'stories' needs a 'story:' name, got {item!r}")
        data.stories.append(Block(str(item["story"]), str(path), _steps(item, path, "story"),
                                  "test" if test else "story"))
    return data


def _steps(item: dict, path: Path, kind: str) -> list:
    steps = item.get("steps")
    if not isinstance(steps, list) or not steps:
        raise StoriesError(f"{path}: {kind} '{item.get(kind)}' has no steps")
    for step in steps:
        if not isinstance(step, dict) or not (set(step) & {"intent", "action", "slot_was_set", "active_loop", "or",
                                                            "checkpoint", "user", "bot"}):
            raise StoriesError(f"{path}: {kind} '{item.get(kind)}': a step must be intent, action, slot_was_set, "
                               f"active_loop, or, checkpoint, user or bot; got {step!r}")
    return steps


# -- steps to events --------------------------------------------------------


def user_event(step: dict) -> dict:
    """The user event of an `intent:` (or `user:`) step: intent, entities (from the step's `entities`
    list, or else the annotations in its `user:` text) and the plain text."""
    text, annotated = parse_annotated(str(step["user"]).strip()) if step.get("user") is not None else (None, ())
    entities = []
    for entity in step.get("entities") or []:
        if isinstance(entity, str):
            entities.append({"entity": entity})
        elif isinstance(entity, dict) and "entity" in entity:
            entities.append({k: v for k, v in entity.items() if k in ("entity", "value", "role", "group")})
        elif isinstance(entity, dict):
            for name, value in entity.items():
                entities.append({"entity": name, "value": value})
    if not entities:
        entities = [{k: e[k] for k in ("entity", "value", "role", "group") if k in e} for e in annotated]
    return {"event": "user", "intent": step.get("intent"), "entities": entities, "text": text}


def _slot_events(spec, in_rule: bool) -> list[dict]:
    events = []
    for item in spec if isinstance(spec, list) else [spec]:
        if isinstance(item, str):
            events.append({"event": "slot", "name": item, "value": SET})
        elif isinstance(item, dict):
            for name, value in item.items():
                events.append({"event": "slot", "name": name,
                               "value": SHOULD_NOT_BE_SET if value is None and in_rule else value})
    return events


def step_events(step: dict, in_rule: bool) -> list[list[dict]]:
    """The alternatives of one step, each a list of events (one alternative unless it is an `or`)."""
    if "or" in step:
        alternatives = []
        for option in step["or"] or []:
            alternatives.extend(step_events(option, in_rule))
        return alternatives
    if "intent" in step or "user" in step:
        return [[{"event": "action", "name": ACTION_LISTEN}, user_event(step)]]
    if "action" in step:
        return [[{"event": "action", "name": str(step["action"])}]]
    if "bot" in step:
        return [[{"event": "action", "name": str(step["bot"]), "text": True}]]
    if "slot_was_set" in step:
        return [_slot_events(step["slot_was_set"], in_rule)]
    if "active_loop" in step:
        name = step["active_loop"]
        return [[{"event": "active_loop", "name": (SHOULD_NOT_BE_SET if in_rule else None) if name is None
                  else str(name)}]]
    return [[]]  # a checkpoint: joins stories, no event


def block_events(block: Block, steps: list | None = None) -> list[list[dict]]:
    """Every event sequence of a rule, or of a story's own steps (without checkpoints' joins).
    Raises StoriesError when `or` steps would make more than MAX_PATHS sequences."""
    in_rule = block.kind == "rule"
    choices = [step_events(step, in_rule) for step in (block.steps if steps is None else steps)]
    count = 1
    for options in choices:
        count *= max(1, len(options))
    if count > MAX_PATHS:
        raise StoriesError(f"{block.source}: {block.kind} '{block.name}': its 'or' steps make {count} paths "
                           f"(at most {MAX_PATHS})")
    sequences = []
    for combination in itertools.product(*[options or [[]] for options in choices]):
        events = [dict(e) for part in combination for e in part]
        if in_rule:
            events = _rule_frame(block, events)
        sequences.append(events)
    return sequences


def _rule_frame(block: Block, events: list[dict]) -> list[dict]:
    """A rule's conditions, the snippet action unless it is for the conversation's start, its steps, and
    the action_listen it ends with (or a snippet when it does not wait for the user)."""
    framed = [e for step in block.condition for part in step_events(step, True) for e in part]
    if not block.conversation_start:
        framed.append({"event": "action", "name": RULE_SNIPPET})
    framed.extend(events)
    framed.append({"event": "action", "name": ACTION_LISTEN if block.wait_for_user_input else RULE_SNIPPET})
    return framed


def story_paths(stories: list[Block]) -> list[tuple[str, list[dict]]]:
    """Every (story name, events) path: stories that start without a checkpoint, continued through the
    stories that start where they end (Rasa's story graph), each path ending with action_listen."""
    starting: dict[str, list[Block]] = {}
    for story in stories:
        for checkpoint in story.start_checkpoints:
            starting.setdefault(checkpoint, []).append(story)
    paths: list[tuple[str, list[dict]]] = []

    def walk(story: Block, prefix: list[dict], seen: tuple[str, ...]) -> None:
        if len(paths) >= MAX_PATHS:
            return
        own = [s for s in story.steps if not (isinstance(s, dict) and "checkpoint" in s)]
        for events in block_events(story, own):
            path = prefix + events
            ends = story.end_checkpoints
            nexts = [s for c in ends for s in starting.get(c, []) if s.name not in seen]
            if nexts:
                for following in nexts:
                    walk(following, path, seen + (following.name,))
            else:
                paths.append((story.name, path + [{"event": "action", "name": ACTION_LISTEN}]))

    for story in stories:
        if not story.start_checkpoints or STORY_START in story.start_checkpoints:
            walk(story, [], (story.name,))
    if len(paths) >= MAX_PATHS:
        log.warning("stories: only the first %d paths through the checkpoints are used", MAX_PATHS)
    return paths
