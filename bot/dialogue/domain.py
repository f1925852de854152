"""The conversation domain (Rasa's domain.yml): intents, slots, forms,
responses and the names of custom actions."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from bot.yaml_files import read_yaml


class DomainError(Exception):
    """The domain file cannot be used; the message names the file."""


@dataclass
class Domain:
    raw: dict  # the file as read: sent to custom actions, which expect Rasa's format
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> "Domain":
        path = Path(path)
        raw = read_yaml(path, DomainError) or {}
        if not isinstance(raw, dict):
            raise DomainError(f"{path}: expected a mapping")
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
    def slots(self) -> dict[str, dict]:
        return self.raw.get("slots") or {}

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
        return name in self.responses or name in self.forms or name in self.custom_actions

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
        values = {k: ("" if v is None else v) for k, v in {**slots, **(fill or {})}.items()}
        if "text" in variant:
            try:
                variant["text"] = variant["text"].format(**values)
            except (KeyError, IndexError, ValueError):
                pass  # a template naming an unset slot is sent as written, as Rasa does
        variant.update({k: v for k, v in overrides.items() if v is not None})
        return [variant]


def _matching(variants: list[dict], slots: dict, channel: str | None) -> list[dict]:
    """The variants to choose from: those whose conditions and channel match
    (the most specific first), else the plain ones, else all of them."""
    def holds(variant: dict) -> bool:
        return all(isinstance(c, dict) and c.get("type", "slot") == "slot"
                   and slots.get(c.get("name")) == c.get("value") for c in variant.get("condition") or [])

    def specificity(variant: dict) -> int:  # how much a variant asks for: its conditions, and a channel
        return len(variant.get("condition") or []) + bool(variant.get("channel"))

    specific = [v for v in variants if (v.get("condition") or v.get("channel")) and holds(v)
                and v.get("channel") in (None, channel)]
    if specific:  # of those that match, the most specific (a channel's Chinese text over the plain Chinese one)
        most = max(specificity(v) for v in specific)
        return [v for v in specific if specificity(v) == most]
    plain = [v for v in variants if not v.get("condition") and not v.get("channel")]
    return plain or variants
