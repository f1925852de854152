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

    def render(self, name: str, slots: dict, **overrides) -> list[dict]:
        """The messages of response `name`, one variant chosen, slots filled in."""
        variants = self.responses.get(name)
        if not variants:
            raise DomainError(f"no response named '{name}' in the domain")
        variant = dict(random.choice(variants))
        values = {k: ("" if v is None else v) for k, v in slots.items()}
        if "text" in variant:
            try:
                variant["text"] = variant["text"].format(**values)
            except (KeyError, IndexError, ValueError):
                pass  # a template naming an unset slot is sent as written, as Rasa does
        variant.update({k: v for k, v in overrides.items() if v is not None})
        return [variant]
