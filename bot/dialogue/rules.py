"""Dialogue rules (Rasa's rules.yml): which actions follow which intent.

Two rule shapes are read:
  steps: [intent: X, action: A, action: B ...]        X is answered by A, B...
  condition: [active_loop: F]                          when form F completes,
  steps: [action: F, active_loop: null, action: S]     S runs (the form's submit)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.dialogue.domain import Domain
from bot.yaml_files import read_yaml

BUILTIN_ACTIONS = {"action_answer_from_knowledge", "action_deactivate_loop", "action_listen"}


class RulesError(Exception):
    """The rules file cannot be used; the message names the file and rule."""


@dataclass
class RuleBook:
    by_intent: dict[str, list[str]] = field(default_factory=dict)
    form_submit: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, domain: Domain) -> "RuleBook":
        path = Path(path)
        raw = read_yaml(path, RulesError) or {}
        book = cls()
        for rule in raw.get("rules") or []:
            name = rule.get("rule", "?")
            steps = rule.get("steps") or []
            actions = _values(steps, "action")
            for action in actions:
                if not (domain.knows_action(action) or action in BUILTIN_ACTIONS):
                    raise RulesError(f"{path}: rule '{name}' uses action '{action}', "
                                     "which the domain does not declare")
            loops = _values(rule.get("condition") or [], "active_loop")
            intents = _values(steps, "intent")
            if loops:
                form = loops[0]
                book.form_submit[form] = [a for a in actions if a != form]
            elif intents:
                if intents[0] in book.by_intent:
                    raise RulesError(f"{path}: rule '{name}': intent '{intents[0]}' already has a rule")
                book.by_intent[intents[0]] = actions
            else:
                raise RulesError(f"{path}: rule '{name}' has neither an intent step nor an active_loop condition")
        return book


def _values(steps: list, key: str) -> list:
    """The `key` values of the steps that have one, in order."""
    return [step[key] for step in steps if isinstance(step, dict) and key in step]
