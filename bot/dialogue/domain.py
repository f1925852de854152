"""The conversation domain (Rasa's domain.yml): intents, slots, forms,
responses and the names of custom actions."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from bot.yaml_files import read_yaml, yaml_files


class DomainError(Exception):
    """The domain file cannot be used; the message names the file."""


@dataclass
class Domain:
    raw: dict  # the file as read: sent to custom actions, which expect Rasa's format
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> "Domain":
        path = Path(path)
        raw: dict = {}
        for file in yaml_files(path):  # a `domain/` folder is merged, as Rasa merges it
            part = read_yaml(file, DomainError) or {}
            if not isinstance(part, dict):
                raise DomainError(f"{file}: expected a mapping")
            _merge(raw, part)
        domain = cls(raw, str(path))
        for form, spec in domain.forms.items():
            for slot in spec:
                if slot not in domain.slots:
                    raise DomainError(f"{path}: form '{form}' requires slot '{slot}', which is not declared")
        return domain

    @property
    def intents(self) -> list[str]:
        return [i if isinstance(i, str) else next(iter(i)) for i in self.raw.get("intents", [])]

    @property
    def entities(self) -> list[str]:
        """Entity names (an entity may be written with its roles and groups: {name: {roles: [...]}})."""
        return [e if isinstance(e, str) else next(iter(e)) for e in self.raw.get("entities") or []]

    def intent_uses_entity(self, intent: str | None, entity: str) -> bool:
        """Whether `entity` counts in the dialogue state for `intent` (the intent's `use_entities` /
        `ignore_entities`, as in Rasa; by default every entity counts)."""
        for item in self.raw.get("intents") or []:
            if isinstance(item, dict) and intent in item:
                spec = item[intent] or {}
                use = spec.get("use_entities", True)
                if entity in (spec.get("ignore_entities") or []):
                    return False
                return use is True or (isinstance(use, list) and entity in use)
        return True

    @property
    def slots(self) -> dict[str, dict]:
        return self.raw.get("slots") or {}

    @property
    def initial_slots(self) -> dict:
        """The slots that have an `initial_value`, with it (a new dict each time: callers keep it)."""
        return {name: spec["initial_value"] for name, spec in self.slots.items()
                if spec.get("initial_value") is not None}

    @property
    def session_config(self) -> tuple[float, bool]:
        """(session_expiration_time in minutes, 0 = never; carry_over_slots_to_new_session), Rasa's
        defaults 60 and True."""
        config = self.raw.get("session_config") or {}
        return (float(config.get("session_expiration_time", 60) or 0),
                bool(config.get("carry_over_slots_to_new_session", True)))

    def retrieval_responses(self, action: str) -> list[str]:
        """For a retrieval action (`utter_faq`), its responses (`utter_faq/returns`, ...)."""
        return [name for name in self.responses if name.startswith(action + "/")]

    @property
    def forms(self) -> dict[str, list[str]]:
        forms = self.raw.get("forms") or {}
        return {name: list((spec or {}).get("required_slots", [])) for name, spec in forms.items()}

    @property
    def responses(self) -> dict[str, list[dict]]:
        return self.raw.get("responses") or {}

    @property
    def custom_actions(self) -> list[str]:
        return list(self.raw.get("actions") or [])

    def knows_action(self, name: str) -> bool:
        """Declared in the domain: a response (or a retrieval action with `name/...` responses), a form,
        or a custom action. Rasa's default actions are known too (bot.dialogue.policy.DEFAULT_ACTIONS)."""
        return (name in self.responses or name in self.forms or name in self.custom_actions
                or bool(self.retrieval_responses(name)))

    def render(self, name: str, slots: dict, channel: str | None = None, fill: dict | None = None,
               **overrides) -> list[dict]:
        """The messages of response `name`, one variant chosen, slots filled in.

        As Rasa 3 does: variants whose `condition` (a list of {type: slot,
        name, value}) holds for `slots`, or whose `channel` is `channel`, are
        preferred; otherwise one without condition or channel is chosen. The
        `condition` and `channel` keys never reach the shopper. `fill` adds
        template values (an action's utter_message keyword arguments)."""
        variants = self.responses.get(name)
        if not variants:
            raise DomainError(f"no response named '{name}' in the domain")
        variant = {k: v for k, v in random.choice(_matching(variants, slots, channel)).items()
                   if k not in ("condition", "channel")}
        every = {name: None for name in self.slots}  # a declared slot that is not set is empty, not missing
        values = {k: ("" if v is None else v) for k, v in {**every, **slots, **(fill or {})}.items()}
        if "text" in variant:
            variant["text"] = fill_template(variant["text"], values)
        variant.update({k: v for k, v in overrides.items() if v is not None})
        return [variant]


class _Keep(dict):
    """Template values where a missing name stays as its own `{placeholder}`."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_template(text: str, values: dict) -> str:
    """`text` with each `{name}` that `values` has filled in; a name it lacks keeps only its own
    placeholder (case A09), and a template that is not a format string at all is sent as written."""
    try:
        return text.format_map(_Keep(values))
    except (IndexError, ValueError, AttributeError, KeyError):
        return text


def _merge(into: dict, part: dict) -> None:
    """Add one domain file to another: lists are joined, mappings merged key by key."""
    for key, value in part.items():
        if isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = into[key] + [v for v in value if v not in into[key]]
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        else:
            into[key] = value


def _matching(variants: list[dict], slots: dict, channel: str | None) -> list[dict]:
    """The variants to choose from, as Rasa's ResponseVariationFilter picks them: those whose conditions
    hold and whose channel is this one; else those for this channel without conditions; else those whose
    conditions hold without a channel; else the plain ones (else all, rather than nothing). Strings are
    compared without regard to case, as Rasa does."""
    def same(a, b) -> bool:
        return a.casefold() == b.casefold() if isinstance(a, str) and isinstance(b, str) else a == b

    def holds(variant: dict) -> bool:
        return all(isinstance(c, dict) and c.get("type", "slot") == "slot"
                   and same(slots.get(c.get("name")), c.get("value")) for c in variant.get("condition") or [])

    levels: dict[str, list[dict]] = {"conditional_channel": [], "channel": [], "conditional": [], "plain": []}
    for variant in variants:
        own_channel = variant.get("channel")
        if own_channel and own_channel != channel:
            continue
        if variant.get("condition"):
            if holds(variant):
                levels["conditional_channel" if own_channel else "conditional"].append(variant)
        else:
            levels["channel" if own_channel else "plain"].append(variant)
    return next((found for found in levels.values() if found), variants)
