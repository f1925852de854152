"""Loading a project's rules and stories (Rasa's rules.yml, stories.yml, or any
YAML files under data/) into the policies that decide the next action.

Every action a rule or story names must be known: declared in the domain
(a response, a retrieval action such as `utter_faq` with `utter_faq/...`
responses, a form or a custom action), one of Rasa's default actions, or
shopkeep's own `action_answer_from_knowledge`. Anything else is an error that
names the file, the rule or story and the action.
"""

from __future__ import annotations

import logging

from bot.dialogue.domain import Domain
from bot.dialogue.policy import DEFAULT_ACTIONS, DEFAULT_INTENT_ACTIONS, DEFAULT_MAX_HISTORY, PolicyEnsemble
from bot.dialogue.stories import RULE_SNIPPET, DialogueData, StoriesError, read_dialogue_file
from bot.yaml_files import yaml_files

log = logging.getLogger(__name__)

ANSWER_FROM_KNOWLEDGE = "action_answer_from_knowledge"
DEFAULT_INTENTS = tuple(DEFAULT_INTENT_ACTIONS)  # restart, back, session_start: known without declaring
BUILTIN_ACTIONS = {ANSWER_FROM_KNOWLEDGE, RULE_SNIPPET, *DEFAULT_ACTIONS}


class RulesError(StoriesError):
    """The rules or stories cannot be used; the message names the file and rule."""


def read_dialogue(paths) -> DialogueData:
    """The rules and stories in `paths` (a file, a folder, or a list of them); files without either
    key add nothing. Raises RulesError."""
    data = DialogueData()
    for file in yaml_files(paths):
        try:
            data.extend(read_dialogue_file(file))
        except StoriesError as exc:
            raise RulesError(str(exc)) from None
    return data


def _named(data: DialogueData, key: str):
    """(block, name) for each `key` step ("action", "intent") of every rule and story, `or` options too."""
    for block in [*data.rules, *data.stories]:
        for step in [*block.condition, *block.steps]:
            options = step.get("or") if isinstance(step, dict) and "or" in step else [step]
            for option in options or []:
                if isinstance(option, dict) and option.get(key):
                    yield block, option[key]


def check_actions(data: DialogueData, domain: Domain) -> None:
    """Raise RulesError for the first action that is neither in the domain nor built in."""
    for block, action in _named(data, "action"):
        if not (domain.knows_action(action) or action in BUILTIN_ACTIONS):
            raise RulesError(f"{block.source}: {block.kind} '{block.name}' uses action '{action}', "
                             "which the domain does not declare")


def unknown_intents(data: DialogueData, domain: Domain) -> list[str]:
    """"file: rule 'r' uses intent 'x', which the domain does not declare" for each such step (Rasa warns
    about these too; the rule can never apply)."""
    known = {*domain.intents, "nlu_fallback", *DEFAULT_INTENTS}
    return [f"{block.source}: {block.kind} '{block.name}' uses intent '{intent}', which the domain does not declare"
            for block, intent in _named(data, "intent") if str(intent).split("/")[0] not in known]


def load_policy(paths, domain: Domain, max_history: int = DEFAULT_MAX_HISTORY) -> PolicyEnsemble:
    """The policies trained on the rules and stories in `paths`. Raises RulesError."""
    data = read_dialogue(paths)
    check_actions(data, domain)
    for problem in unknown_intents(data, domain):
        log.warning(problem)
    try:
        return PolicyEnsemble(domain, data, max_history)
    except StoriesError as exc:
        raise RulesError(str(exc)) from None
