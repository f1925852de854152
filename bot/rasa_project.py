"""Running a Rasa 3.x project folder as it is laid out (`shopkeep --project DIR`).

    DIR/domain.yml or DIR/domain/      the domain (a folder's files are merged)
    DIR/data/                          NLU data, rules and stories: any file names and subfolders,
                                       each file sorted by its top-level keys (nlu:, rules:, stories:)
    DIR/config.yml                     the language, the fallback threshold and memoization's
                                       max_history; the rest is listed as ignored
    DIR/endpoints.yml                  action_endpoint (ACTION_ENDPOINT overrides it); tracker_store
                                       and event_broker are noted (shopkeep keeps sessions in its Redis)
    DIR/credentials.yml                the channels it names (rest, socketio): shopkeep's channels
                                       are set up in its own config and environment; others are noted
    DIR/tests/                         test stories, for `shopkeep test --project DIR`
    DIR/knowledge/                     (optional, shopkeep's own) documents answered from

Nothing in the folder is changed. `apply_project` returns the shopkeep config
for the project and a list of notices saying what was loaded and what ignored.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.config import Config, ConfigError
from bot.nlu.entities import BUILTIN_DIMENSIONS
from bot.nlu.rasa_config import RasaConfigError, read_rasa_config
from bot.yaml_files import read_yaml, yaml_files

DEFAULT_MAX_HISTORY = 5
WHOLE_CONVERSATION = 20  # memoization's max_history when config.yml leaves it unset (Rasa: all of it)
SUPPORTED_CREDENTIALS = {"rest", "socketio"}  # shopkeep's own REST and socket.io channels speak Rasa's protocol


def project_files(root: Path) -> tuple[Path, Path]:
    """(the domain file or folder, the data folder). Raises ConfigError when either is missing."""
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder (expected a Rasa project: domain.yml, data/, config.yml)")
    domain = root / "domain.yml" if (root / "domain.yml").is_file() else root / "domain"
    if not domain.exists():
        raise ConfigError(f"{root}: no domain.yml or domain/ folder: is this a Rasa project?")
    data = root / "data"
    if not data.is_dir():
        raise ConfigError(f"{root}: no data/ folder with the project's NLU data, rules and stories")
    return domain, data


def apply_project(config: Config, root: str | Path, env: dict[str, str]) -> tuple[Config, list[str]]:
    """`config` with the project's domain, data, config.yml and endpoints.yml in place of the store's
    own dialogue and NLU files. Raises ConfigError (naming the file) when the project cannot be used."""
    root = Path(root).resolve()
    domain, data = project_files(root)
    notes = [f"project {root}: domain {domain.name}{'/' if domain.is_dir() else ''}, NLU data, rules and "
             f"stories from {[p.relative_to(root).as_posix() for p in yaml_files(data)]}"]
    try:
        settings = read_rasa_config(root / "config.yml")
    except RasaConfigError as exc:
        raise ConfigError(str(exc)) from None
    notes.append(settings.notice)
    memo = settings.memoization
    max_history = (memo.max_history or WHOLE_CONVERSATION) if memo else DEFAULT_MAX_HISTORY
    duckling = sorted(set(settings.duckling_dimensions) & set(BUILTIN_DIMENSIONS))
    nlu = replace(config.nlu, data=data, lang=settings.language, builtin_entities=tuple(duckling),
                  fallback_threshold=settings.fallback_threshold if settings.fallback_threshold is not None
                  else config.nlu.fallback_threshold)
    dialogue = replace(config.dialogue, domain=domain, rules=data, max_history=max_history)
    actions = config.actions
    endpoint, endpoint_notes = _endpoints(root / "endpoints.yml")
    notes.extend(endpoint_notes)
    if env.get("ACTION_ENDPOINT"):
        notes.append(f"action server: {env['ACTION_ENDPOINT']} (ACTION_ENDPOINT)")
    elif endpoint:
        actions = replace(actions, endpoint=endpoint)
        notes.append(f"action server: {endpoint} (endpoints.yml)")
    elif (root / "actions").is_dir():
        actions = replace(actions, endpoint=None, package="actions", root=str(root))
        notes.append(f"action server: none configured; custom actions run in this process from "
                     f"{root / 'actions'}")
    else:
        actions = replace(actions, endpoint=None, package=None)
        notes.append("action server: none configured and no actions/ folder: custom actions will fail with "
                     "an apology (set action_endpoint in endpoints.yml or ACTION_ENDPOINT)")
    notes.extend(_credentials(root / "credentials.yml"))
    knowledge = config.knowledge
    own_knowledge = root / "knowledge"
    knowledge = replace(knowledge, sources=(own_knowledge,) if own_knowledge.is_dir() else (), catalog=None)
    notes.append(f"knowledge: {own_knowledge}" if own_knowledge.is_dir() else
                 "knowledge: none (add documents in a knowledge/ folder to answer questions from them)")
    return replace(config, nlu=nlu, dialogue=dialogue, actions=actions, knowledge=knowledge,
                   store_name=config.store_name if config.source and "demo" not in str(config.source)
                   else root.name), notes


def _endpoints(path: Path) -> tuple[str | None, list[str]]:
    if not path.is_file():
        return None, []
    raw = read_yaml(path, ConfigError) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    notes = []
    url = (raw.get("action_endpoint") or {}).get("url") if isinstance(raw.get("action_endpoint"), dict) else None
    for key in sorted(set(raw) - {"action_endpoint", "version"}):
        if raw.get(key):
            what = "sessions are kept in shopkeep's Redis" if key == "tracker_store" else "not used by shopkeep"
            notes.append(f"endpoints.yml: ignoring '{key}' ({what})")
    return url, notes


def _credentials(path: Path) -> list[str]:
    if not path.is_file():
        return []
    raw = read_yaml(path, ConfigError) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    names = [str(k) for k in raw]
    kept = [n for n in names if n in SUPPORTED_CREDENTIALS]
    other = [n for n in names if n not in SUPPORTED_CREDENTIALS]
    notes = []
    if kept:
        notes.append(f"credentials.yml: {', '.join(kept)} served as shopkeep's own channels "
                     "(/webhooks/rest/webhook, /socket.io)")
    if other:
        notes.append(f"credentials.yml: ignoring {', '.join(other)}: shopkeep's messaging channels take their "
                     "secrets from the environment (see `shopkeep channels`)")
    return notes
