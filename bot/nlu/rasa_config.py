"""What shopkeep takes from a Rasa project's config.yml, and what it ignores.

Taken: the language; the FallbackClassifier's threshold; the memoization
policy's max_history (MemoizationPolicy or AugmentedMemoizationPolicy); and
the RulePolicy's core fallback settings. Everything else in `pipeline:` and
`policies:` is Rasa's own machinery (tokenizers, featurizers, DIET, TED) and
is ignored; `notice` says so in one line, for the start-up log.

Defaults are Rasa 3's own (rasa/core/constants.py, rasa/core/policies/
rule_policy.py, engine/recipes/config_files/default_config.yml): a missing
config.yml, or one without `policies:`, gets Rasa's default policies
(MemoizationPolicy, RulePolicy, UnexpecTEDIntentPolicy, TEDPolicy). Two
choices differ: a missing language is "auto" (shopkeep decides from the
training data; Rasa's default "en" gives the same for English data), and
without a FallbackClassifier in the pipeline, or without `pipeline:`, the
fallback threshold is None: shopkeep's classifier calibrates its own on
held-out data, and Rasa's 0.3 was chosen for DIET's confidences, not ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.yaml_files import read_yaml

# Rasa 3's defaults.
FALLBACK_THRESHOLD = 0.3  # FallbackClassifier listed without a threshold
MEMOIZATION_MAX_HISTORY = None  # unbounded: the whole conversation
MEMOIZATION_POLICIES = ("MemoizationPolicy", "AugmentedMemoizationPolicy")
DEFAULT_POLICIES = [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"},
                    {"name": "UnexpecTEDIntentPolicy", "max_history": 5},
                    {"name": "TEDPolicy", "max_history": 5}]
LANGUAGES = {"en": "en", "zh": "zh"}  # Rasa's language code -> shopkeep's lang; all others: "auto"

# Why a component or policy does nothing here, where a reader might expect it to.
_NOTES = {
    "DIETClassifier": "shopkeep has its own intent model",
    "ResponseSelector": "retrieval intents are classified as ordinary intents",
    "DucklingEntityExtractor": "shopkeep finds e-mail addresses and quantities itself",
    "TEDPolicy": "no learned dialogue model: rules and memoized stories decide",
    "UnexpecTEDIntentPolicy": "no learned dialogue model",
}
# Done by shopkeep whatever the pipeline says.
_BUILT_IN = ("EntitySynonymMapper", "RegexEntityExtractor")


class RasaConfigError(Exception):
    """A config.yml that cannot be read; the message names the file."""


@dataclass(frozen=True)
class MemoizationSettings:
    policy: str  # MemoizationPolicy or AugmentedMemoizationPolicy
    max_history: int | None  # None: the whole conversation (Rasa's default)


@dataclass(frozen=True)
class RulePolicySettings:
    core_fallback_threshold: float = 0.3
    core_fallback_action_name: str = "action_default_fallback"
    enable_fallback_prediction: bool = True
    restrict_rules: bool = True


@dataclass(frozen=True)
class RasaNluSettings:
    """The parts of a Rasa config.yml that shopkeep uses."""

    language: str = "auto"  # shopkeep's lang: "en", "zh" or "auto"
    rasa_language: str | None = None  # as written in config.yml
    fallback_threshold: float | None = None  # None: the classifier's calibrated threshold
    memoization: MemoizationSettings | None = None
    rule_policy: RulePolicySettings | None = None
    ignored_components: tuple[str, ...] = ()
    ignored_policies: tuple[str, ...] = ()
    duckling_dimensions: tuple[str, ...] = ()  # what DucklingEntityExtractor was asked for ("number", "time")
    found: bool = True  # False when there was no config.yml
    notice: str = field(default="", compare=False)


def read_rasa_config(path: str | Path) -> RasaNluSettings:
    """Read a Rasa 3 config.yml; a missing file gives Rasa's defaults."""
    path = Path(path)
    found = path.is_file()
    raw = read_yaml(path, RasaConfigError) if found else None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RasaConfigError(f"{path}: expected a mapping with 'language', 'pipeline' and 'policies'")

    rasa_language = raw.get("language")
    if rasa_language is not None and not isinstance(rasa_language, str):
        raise RasaConfigError(f"{path}: 'language' must be a language code such as en or zh")
    language = LANGUAGES.get((rasa_language or "").split("-")[0].split("_")[0].lower(), "auto")

    pipeline = _items(raw, "pipeline", path)
    threshold = None
    ignored_components = []
    duckling: tuple[str, ...] = ()
    for item in pipeline or []:
        name = item["name"]
        if name == "DucklingEntityExtractor":  # (also listed as ignored: shopkeep runs no Duckling)
            duckling = tuple(str(d) for d in item.get("dimensions") or ())
        if name == "FallbackClassifier":
            threshold = _number(item, "threshold", FALLBACK_THRESHOLD, path)
        elif name not in _BUILT_IN and name not in ignored_components:
            ignored_components.append(name)

    policies = _items(raw, "policies", path)
    policies = DEFAULT_POLICIES if policies is None else policies
    memoization = rule_policy = None
    ignored_policies = []
    for item in policies:
        name = item["name"]
        if name in MEMOIZATION_POLICIES and (memoization is None or name == "AugmentedMemoizationPolicy"):
            if memoization is not None:
                ignored_policies.append(memoization.policy)  # the augmented one does all it does, and more
            max_history = item.get("max_history", MEMOIZATION_MAX_HISTORY)
            if max_history is not None and (not isinstance(max_history, int) or isinstance(max_history, bool)
                                            or max_history < 1):
                raise RasaConfigError(f"{path}: {name}: max_history must be a whole number of at least 1")
            memoization = MemoizationSettings(name, max_history)
        elif name == "RulePolicy":
            defaults = RulePolicySettings()
            action = item.get("core_fallback_action_name", defaults.core_fallback_action_name)
            if not isinstance(action, str) or not action:
                raise RasaConfigError(f"{path}: RulePolicy: core_fallback_action_name must be an action name")
            rule_policy = RulePolicySettings(
                core_fallback_threshold=_number(item, "core_fallback_threshold", defaults.core_fallback_threshold,
                                                path),
                core_fallback_action_name=action,
                enable_fallback_prediction=_flag(item, "enable_fallback_prediction",
                                                 defaults.enable_fallback_prediction, path),
                restrict_rules=_flag(item, "restrict_rules", defaults.restrict_rules, path))
        elif name not in ignored_policies:
            ignored_policies.append(name)

    settings = RasaNluSettings(
        language=language, rasa_language=rasa_language, fallback_threshold=threshold, memoization=memoization,
        rule_policy=rule_policy, ignored_components=tuple(ignored_components),
        ignored_policies=tuple(ignored_policies), duckling_dimensions=duckling, found=found)
    return _with_notice(settings, path, pipeline is None, "policies" not in raw)


def _items(raw: dict, key: str, path: Path) -> list[dict] | None:
    """The `pipeline` or `policies` list (None when absent), each item a mapping with a name."""
    items = raw.get(key)
    if items is None:
        return None
    if not isinstance(items, list):
        raise RasaConfigError(f"{path}: '{key}' must be a list of '- name: ...' items")
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RasaConfigError(f"{path}: '{key}' item {number} must be a mapping with a 'name'")
    return items


def _number(item: dict, key: str, default: float, path: Path) -> float:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RasaConfigError(f"{path}: {item['name']}: {key} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _flag(item: dict, key: str, default: bool, path: Path) -> bool:
    value = item.get(key, default)
    if not isinstance(value, bool):
        raise RasaConfigError(f"{path}: {item['name']}: {key} must be true or false, got {value!r}")
    return value


def _names(names) -> str:
    names = [f"{n} ({_NOTES[n]})" if n in _NOTES else n for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _with_notice(settings: RasaNluSettings, path: Path, no_pipeline: bool, no_policies: bool) -> RasaNluSettings:
    """One line for the start-up log: what is used, what is ignored."""
    where = path.name if settings.found else f"{path.name} (not found, Rasa's defaults)"
    language = settings.language if settings.rasa_language in (None, settings.language) \
        else f"{settings.language} (for {settings.rasa_language})"
    threshold = (f"the fallback threshold {settings.fallback_threshold:g}" if settings.fallback_threshold is not None
                 else "the intent model's calibrated fallback threshold")
    parts = [f"{where}: using language {language} and {threshold}"]
    if settings.ignored_components:
        parts.append(f"ignoring pipeline components {_names(settings.ignored_components)}")
    elif no_pipeline:
        parts.append("no pipeline (shopkeep has its own intent model)")
    used = []
    if settings.memoization:
        history = settings.memoization.max_history or "unbounded (the whole conversation)"
        used.append(f"{settings.memoization.policy} max_history {history}")
    if settings.rule_policy:
        rule = settings.rule_policy
        used.append(f"RulePolicy core fallback {rule.core_fallback_action_name} below {rule.core_fallback_threshold:g}"
                    + ("" if rule.enable_fallback_prediction else " (disabled)"))
    policies = "Rasa's default policies" if no_policies else "policies"
    if used:
        parts.append(f"{policies}: {' and '.join(used)} used")
    if settings.ignored_policies:
        parts.append(f"ignoring policies {_names(settings.ignored_policies)}")
    return replace(settings, notice="; ".join(parts))
