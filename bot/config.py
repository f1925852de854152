"""Configuration: plain settings from a YAML file, secrets and deployment
choices from the environment.

The default file is the demo store's (`bot/demo/shopkeep.yml`). Relative
paths in a file are resolved against that file's folder, so a store can keep
its whole configuration in one folder.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from limits import parse as parse_rate_limit

from bot.console.hours import HoursError, SupportHours
from bot.yaml_files import read_yaml
from knowledge.shop.policy import Policy

DEMO_CONFIG = Path(__file__).parent / "demo" / "shopkeep.yml"

# Environment variables that override the file. REDIS_URL may carry a
# password, so it is never written into a config file we ship.
ENV_DATA_DIR = "SHOPKEEP_DATA_DIR"
ENV_CONFIG = "SHOPKEEP_CONFIG"
ENV_REDIS_URL = "REDIS_URL"
ENV_ACTION_ENDPOINT = "ACTION_ENDPOINT"
ENV_LM_MODEL = "SHOPKEEP_LM_MODEL"
ENV_PUBLIC_URL = "SHOPKEEP_PUBLIC_URL"  # overrides server.public_url
ENV_STORE_URL = "SHOPKEEP_STORE_URL"  # overrides store.backend_url
ENV_TODAY = "SHOPKEEP_TODAY"  # overrides store.today
ENV_STORE_API_TOKEN = "SHOPKEEP_STORE_API_TOKEN"  # the shop backend's API token (Bearer)
ENV_CUSTOMER_TOKEN_SECRET = "SHOPKEEP_CUSTOMER_TOKEN_SECRET"  # verifies the store site's customer tokens
# Signs the conversation tokens the widget and the socket.io channel hand out. Without it
# a random key is made once and kept in the data directory (data/secret_key, mode 0600).
ENV_SECRET_KEY = "SHOPKEEP_SECRET_KEY"
SECRET_KEY_FILE = "secret_key"

# Messaging platforms: each is enabled when its secrets are set (all of them: a
# secret without its partner stops the start with the missing variable's name).
# The API base URLs default to the real ones; tests and staging point them elsewhere.
TELEGRAM_API = "https://api.telegram.org"
META_API = "https://graph.facebook.com/v21.0"
SLACK_API = "https://slack.com/api"
TWILIO_API = "https://api.twilio.com"
ENV_META_PAGE_TOKEN = "SHOPKEEP_META_PAGE_TOKEN"  # optional: Messenger's Page token, when not the access token
# Telegram's rule for setWebhook's secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ConfigError(Exception):
    """The configuration file or environment is not usable."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 8080
    workers: int | None = None  # server processes on the one port; None: one per CPU core
    max_message_chars: int = 2000
    max_body_bytes: int = 65536
    # Addresses or networks of the reverse proxy in front of the bot ("127.0.0.1", "10.0.0.0/8"):
    # requests from them are taken to come from the X-Forwarded-For address (rate limits per
    # shopper, logs). Empty: the connection's own address.
    trusted_proxies: tuple[str, ...] = ()
    # The address the platforms and shoppers reach the bot at ("https://bot.your-store.example"):
    # webhook URLs (`shopkeep channels`), Twilio's signature (it signs the URL it called) and
    # absolute links in messaging replies. Empty: taken from each request.
    public_url: str | None = None


@dataclass(frozen=True)
class SessionConfig:
    redis_url: str | None = None
    key_prefix: str = "shopkeep"
    ttl_s: int = 86400
    history_limit: int = 200
    lock_lease_s: float = 10.0  # a crashed process's conversation is free again after this
    lock_wait_s: float = 30.0  # a message waits at most this long for its turn (then 503 "busy")
    pool_size: int = 50  # Redis connections per server process; more turns wait for one
    pool_timeout_s: float = 5.0  # how long a command waits for a free connection (then 503)
    command_timeout_s: float = 2.0  # how long a command waits for Redis's answer (then 503)


@dataclass(frozen=True)
class NluConfig:
    data: Path = Path("nlu.yml")
    lang: str = "auto"  # en, zh or auto (from the training data)
    encoder: str | None = None  # None: the packaged encoder for the language
    finetune: bool | None = None  # None: the packaged encoder as it is (fine-tuning did not transfer); true: tune
    fallback_threshold: float | None = None  # None: chosen on held-out training data
    # Duckling dimensions found by shopkeep itself (number, email): set from a Rasa project's config.yml
    builtin_entities: tuple[str, ...] = ()
    strict: bool = False  # refuse an example under two intents (default: warn, leave it out of both)


@dataclass(frozen=True)
class DialogueConfig:
    domain: Path = Path("domain.yml")  # a file, or a folder of domain files (merged)
    rules: Path = Path("rules.yml")  # a rules/stories file, or a folder (every YAML file with rules: or stories:)
    max_history: int = 5  # states the story memoization looks back over (Rasa's MemoizationPolicy max_history)


@dataclass(frozen=True)
class KnowledgeConfig:
    # Files or folders ingested into the knowledge store at start-up (only
    # changed files are re-read); more can be added with `shopkeep knowledge ingest`.
    sources: tuple[Path, ...] = ()
    catalog: Path | None = None
    # None: the fitted abstention model's own threshold (knowledge/answerability.py); a
    # probability (0..1) overrides it: higher abstains more.
    min_answer_probability: float | None = None
    translate_titles: bool = False  # the LM writes Chinese versions of English titles (once, cached)


@dataclass(frozen=True)
class LmConfig:
    model: str = "none"
    timeout_s: float = 20.0
    max_tokens: int = 160
    threads: int = 2


@dataclass(frozen=True)
class StoreConfig:
    name: str = "our store"
    # The store's records (orders, products, customers, purchase history) for the actions and the
    # recommender: a folder of JSON files (default: the demo store's), or a shop backend's HTTP API.
    data: Path | None = None
    backend_url: str | None = None  # SHOPKEEP_STORE_URL overrides; README "Store data" has the API
    timeout_s: float = 5.0  # one backend request
    attempts: int = 3  # tries per read on connection errors, timeouts and 5xx
    policy: Policy = field(default_factory=Policy)
    today: str | None = None  # an ISO date that pins "today" for the policy windows (demos, tests); $SHOPKEEP_TODAY
    # From the environment only:
    api_token: str | None = field(default=None, repr=False)  # $SHOPKEEP_STORE_API_TOKEN, sent as Bearer
    # $SHOPKEEP_CUSTOMER_TOKEN_SECRET: the key the store's site signs logged-in shoppers' tokens with
    customer_token_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ActionsConfig:
    package: str | None = "actions"  # run in process when there is no endpoint (None: no custom actions)
    root: str | None = None  # the folder `package` is imported from (a Rasa project's); None: the usual path
    endpoint: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class WidgetConfig:
    """The website widget (bot/channels/widget.py) and the socket.io channel share these."""
    enabled: bool = True
    # Pages that may open the chat, as origins ("https://shop.example.com"); the bot's own
    # origin (its demo page) is always allowed. "*" allows any site (not for production).
    allowed_origins: tuple[str, ...] = ()
    token_max_age_days: float = 30.0  # a conversation token older than this is refused (HTTP 401)
    max_frame_bytes: int = 16384  # a bigger WebSocket frame closes the socket (code 1009)
    # "N per PERIOD" in the `limits` package's notation ("10/10 seconds", "60/minute").
    rate_limit_conversation: str = "10/10 seconds"  # messages per conversation
    rate_limit_ip: str = "60/minute"  # messages per client IP address, all its conversations
    connections_per_ip: str = "30/minute"  # new sockets per client IP address
    socketio: bool = True  # Rasa's socket.io channel at /socket.io (rasa-webchat and similar widgets)


@dataclass(frozen=True)
class MessagingConfig:
    """What the messaging webhooks share (bot/channels/webhooks.py). Their secrets come from the
    environment only (`PlatformCredentials`)."""
    dedupe_ttl_s: int = 259200  # an event id is remembered 3 days: a redelivery within that is ignored
    send_attempts: int = 5  # tries per message on the platform's send API (429, 5xx, network errors)
    send_max_wait_s: float = 60.0  # the longest wait between tries, Retry-After included; longer gives up
    send_timeout_s: float = 10.0  # one send API call
    concurrent_turns: int = 16  # webhook turns one server process runs at once
    reclaim_after_s: float = 120.0  # a turn its process left unfinished (it crashed) is run by another after this


@dataclass(frozen=True)
class ChannelsConfig:
    widget: WidgetConfig = field(default_factory=WidgetConfig)
    messaging: MessagingConfig = field(default_factory=MessagingConfig)


@dataclass(frozen=True)
class TelegramCredentials:
    token: str = field(repr=False)
    secret: str = field(repr=False)
    api_url: str = TELEGRAM_API


@dataclass(frozen=True)
class MetaCredentials:
    """WhatsApp Cloud API and Messenger: one Meta app."""
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    access_token: str = field(repr=False)
    api_url: str = META_API
    # Messenger's Send API takes a Page access token; when the app's token above is not one
    # (a WhatsApp system-user token), set this too (SHOPKEEP_META_PAGE_TOKEN).
    page_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class SlackCredentials:
    signing_secret: str = field(repr=False)
    bot_token: str = field(repr=False)
    api_url: str = SLACK_API


@dataclass(frozen=True)
class TwilioCredentials:
    auth_token: str = field(repr=False)
    account_sid: str = field(repr=False)
    api_url: str = TWILIO_API


@dataclass(frozen=True)
class ChatwootCredentials:
    """A store's own Chatwoot, through an Agent Bot (bot/channels/chatwoot.py)."""
    url: str  # the Chatwoot's base URL, e.g. https://chat.your-store.example
    bot_token: str = field(repr=False)  # the Agent Bot's access token (header api_access_token)
    webhook_secret: str = field(repr=False)  # the Agent Bot's webhook secret (X-Chatwoot-Signature)
    api_url: str = ""  # `url` without its trailing "/" (set from the same variable)


@dataclass(frozen=True)
class PlatformCredentials:
    """The messaging platforms whose secrets are set (None: not enabled)."""
    telegram: TelegramCredentials | None = None
    meta: MetaCredentials | None = None
    slack: SlackCredentials | None = None
    twilio: TwilioCredentials | None = None
    chatwoot: ChatwootCredentials | None = None


# platform: (credentials class, {field: environment variable}, API URL variable)
PLATFORM_ENV = {
    "telegram": (TelegramCredentials, {"token": "SHOPKEEP_TELEGRAM_TOKEN", "secret": "SHOPKEEP_TELEGRAM_SECRET"},
                 "SHOPKEEP_TELEGRAM_API_URL"),
    "meta": (MetaCredentials, {"app_secret": "SHOPKEEP_META_APP_SECRET", "verify_token": "SHOPKEEP_META_VERIFY_TOKEN",
                               "access_token": "SHOPKEEP_META_ACCESS_TOKEN"}, "SHOPKEEP_META_API_URL"),
    "slack": (SlackCredentials, {"signing_secret": "SHOPKEEP_SLACK_SIGNING_SECRET",
                                 "bot_token": "SHOPKEEP_SLACK_BOT_TOKEN"}, "SHOPKEEP_SLACK_API_URL"),
    "twilio": (TwilioCredentials, {"auth_token": "SHOPKEEP_TWILIO_AUTH_TOKEN",
                                   "account_sid": "SHOPKEEP_TWILIO_ACCOUNT_SID"}, "SHOPKEEP_TWILIO_API_URL"),
    # Chatwoot has no public API address: its base URL is required, and is also its API URL (checked as one)
    "chatwoot": (ChatwootCredentials, {"url": "SHOPKEEP_CHATWOOT_URL", "bot_token": "SHOPKEEP_CHATWOOT_BOT_TOKEN",
                                       "webhook_secret": "SHOPKEEP_CHATWOOT_WEBHOOK_SECRET"}, "SHOPKEEP_CHATWOOT_URL"),
}


def platform_credentials(env: dict[str, str]) -> PlatformCredentials:
    """The enabled platforms' secrets from the environment. ConfigError when a
    platform has some of its secrets but not all (naming the missing ones), a
    malformed API URL, or a Telegram secret Telegram would refuse."""
    found = {}
    for platform, (cls, variables, url_variable) in PLATFORM_ENV.items():
        values = {name: env.get(var, "").strip() for name, var in variables.items()}
        if not any(values.values()):
            stray = [v for v in (url_variable, *([ENV_META_PAGE_TOKEN] if platform == "meta" else []))
                     if env.get(v, "").strip()]
            if stray:  # a setting that would be silently ignored
                raise ConfigError(f"{' and '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but "
                                  f"{platform.capitalize()} is not on: set {', '.join(variables.values())} too")
            continue
        missing = [variables[name] for name, value in values.items() if not value]
        if missing:
            given = [variables[name] for name, value in values.items() if value]
            raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but "
                              f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not: "
                              f"{platform.capitalize()} needs all of {', '.join(variables.values())}")
        api_url = env.get(url_variable, "").strip().rstrip("/")
        if api_url and not re.fullmatch(r"https?://[^\s]+", api_url):
            raise ConfigError(f"{url_variable} must be an http(s) URL, got {api_url!r}")
        if platform == "telegram" and not TELEGRAM_SECRET.fullmatch(values["secret"]):
            raise ConfigError("SHOPKEEP_TELEGRAM_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                              "(Telegram refuses any other secret_token)")
        optional = {"page_token": env.get(ENV_META_PAGE_TOKEN, "").strip()} if platform == "meta" else {}
        found[platform] = cls(**values, **({"api_url": api_url} if api_url else {}),
                              **{k: v for k, v in optional.items() if v})
    return PlatformCredentials(**found)


@dataclass(frozen=True)
class ConsoleConfig:
    """The agent handoff console (bot/console/) and when the bot hands a conversation to a person."""
    enabled: bool = True  # the console at /console
    # The session cookie's Secure flag: None sets it when the console is reached over https
    # (directly or, from a trusted proxy, by X-Forwarded-Proto); true/false force it.
    cookie_secure: bool | None = None
    session_max_age_s: int = 43200  # an agent is logged out this long after logging in (12 hours)
    login_slow_after: int = 3  # failed logins for one name (or from one address) before each try waits
    login_lockout_after: int = 10  # failed logins within login_lockout_s before the name is locked
    login_lockout_s: int = 900  # how long a lockout lasts (and the window failures are counted in)
    retention_days: float = 30.0  # transcripts, notes and handoff records are deleted this long after the
    # conversation's last message
    # When a person is there to answer: "mon-fri 09:00-17:00", "sat 10:00-14:00" (days mon..sun, 24-hour
    # times in `timezone`). Empty: always. Outside these hours a shopper handed to a person is told when
    # to expect one and may leave an e-mail address.
    support_hours: tuple[str, ...] = ()
    timezone: str = "UTC"  # an IANA zone name, e.g. "Europe/London", "Asia/Shanghai"
    # Hand off when the shopper's message scores at or below this (lm/sentiment.py, -1..1); null: never.
    # Measured by bench/handoff_sentiment.py: at -0.97, 0-0.8% of ordinary English shopper questions on
    # four store sets hand off, and about a third of openly angry messages do.
    negative_sentiment_handoff: float | None = -0.97
    # The languages it applies to. Not Chinese by default: the Chinese model, trained on product reviews,
    # reads plain questions with 退货/客服/不 as strongly negative (6-14% false handoffs even at -0.97).
    negative_sentiment_languages: tuple[str, ...] = ("en",)
    unanswered_handoff: int = 2  # hand off after this many questions in a row the bot could not answer; 0: never


@dataclass(frozen=True)
class Config:
    store_name: str = "our store"
    data_dir: Path = Path("data")
    server: ServerConfig = field(default_factory=ServerConfig)
    sessions: SessionConfig = field(default_factory=SessionConfig)
    nlu: NluConfig = field(default_factory=NluConfig)
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    lm: LmConfig = field(default_factory=LmConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    platforms: PlatformCredentials = field(default_factory=PlatformCredentials)  # from the environment only
    source: Path | None = None


_SECTIONS = {
    "server": ServerConfig,
    "sessions": SessionConfig,
    "nlu": NluConfig,
    "dialogue": DialogueConfig,
    "knowledge": KnowledgeConfig,
    "lm": LmConfig,
    "actions": ActionsConfig,
    "console": ConsoleConfig,
}


_OPTIONAL_NUMBERS = {"int | None": int, "float | None": float}  # settings whose default None means "automatic"


def _mapping(cls: type, raw: Any, name: str, what: str = "setting(s)") -> tuple[dict, dict]:
    """(raw as a dict, cls's fields by name); ConfigError unless raw is a mapping of known names."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"section '{name}' must be a mapping, got {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"unknown {what} in '{name}': {', '.join(sorted(unknown))}")
    return raw, known


def _section(cls: type, raw: Any, base: Path, name: str) -> Any:
    raw, known = _mapping(cls, raw, name)
    values = {}
    for key, value in raw.items():
        default = getattr(cls(), key)
        if "tuple[" in str(known[key].type):  # a list of paths or strings; one alone is a list of one
            paths = "tuple[Path" in str(known[key].type)
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) and v for v in items):
                expected = "path or a list of paths" if paths else "string or a list of strings"
                raise ConfigError(f"'{name}.{key}' must be a {expected}, got {value!r}")
            values[key] = tuple((base / v).resolve() for v in items) if paths else tuple(items)
        elif "Path" in str(known[key].type):
            values[key] = None if value is None else (base / str(value)).resolve()
        elif "bool" in str(known[key].type):
            if not isinstance(value, bool) and not (value is None and "None" in str(known[key].type)):
                raise ConfigError(f"'{name}.{key}' must be true or false, got {value!r}")
            values[key] = value
        elif value is None:
            values[key] = value
        elif kind := (type(default) if isinstance(default, (int, float))
                      else _OPTIONAL_NUMBERS.get(str(known[key].type))):
            try:
                values[key] = kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"'{name}.{key}' must be a number, got {value!r}") from None
        else:
            values[key] = value
    return cls(**values)


def _channels(raw: Any, base: Path) -> ChannelsConfig:
    """The `channels:` section: one mapping per channel."""
    raw, known = _mapping(ChannelsConfig, raw, "channels", "channel(s)")
    return ChannelsConfig(**{name: _section(known[name].default_factory, value, base, f"channels.{name}")
                             for name, value in raw.items()})


def _store(raw: Any, base: Path) -> StoreConfig:
    """The `store:` section, with its `policy:` mapping; names, folders and URL checked."""
    raw, _ = _mapping(StoreConfig, raw, "store")
    raw = dict(raw)
    for secret in ("api_token", "customer_token_secret"):
        if secret in raw:
            raise ConfigError(f"'store.{secret}' is a secret: set it in the environment "
                              f"(${ENV_STORE_API_TOKEN if secret == 'api_token' else ENV_CUSTOMER_TOKEN_SECRET})")
    policy = _section(Policy, raw.pop("policy", None), base, "store.policy")
    store = _section(StoreConfig, raw, base, "store")
    store = replace(store, name=str(store.name), policy=policy)
    if store.data is not None and not store.data.is_dir():
        raise ConfigError(f"'store.data': {store.data} is not a folder")
    return store


def load_config(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Config:
    """Read the YAML file at `path` (default: $SHOPKEEP_CONFIG or the demo
    store's) and apply environment overrides."""
    env = dict(os.environ if env is None else env)
    path = Path(path or env.get(ENV_CONFIG) or DEMO_CONFIG)
    raw = read_yaml(path, ConfigError) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    unknown = set(raw) - set(_SECTIONS) - {"store", "channels"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s): {', '.join(sorted(unknown))}")
    base = path.resolve().parent
    sections = {name: _section(cls, raw.get(name), base, name) for name, cls in _SECTIONS.items()}
    sections["channels"] = _channels(raw.get("channels"), base)
    store = _store(raw.get("store"), base)
    config = Config(
        store_name=store.name,
        store=store,
        data_dir=Path(env.get(ENV_DATA_DIR, "data")).resolve(),
        source=path.resolve(),
        **sections,
    )
    config = check_channel_addresses(rate_limits_checked(check_ranges(apply_env(config, env))))
    try:
        SupportHours.parse(config.console.support_hours, config.console.timezone)
    except HoursError as exc:
        raise ConfigError(f"'console.support_hours' / 'console.timezone': {exc}") from None
    return config


# (section, setting, smallest allowed value, whether the smallest is excluded)
_RANGES = [
    ("server", "workers", 1, False),
    ("sessions", "pool_size", 1, False),
    ("sessions", "pool_timeout_s", 0, True),
    ("sessions", "command_timeout_s", 0, True),
    ("sessions", "lock_lease_s", 0, True),
    ("sessions", "lock_wait_s", 0, False),
    ("channels.widget", "token_max_age_days", 0, True),
    ("channels.widget", "max_frame_bytes", 256, False),
    ("channels.messaging", "dedupe_ttl_s", 60, False),
    ("channels.messaging", "send_attempts", 1, False),
    ("channels.messaging", "send_max_wait_s", 0, False),
    ("channels.messaging", "send_timeout_s", 0, True),
    ("channels.messaging", "concurrent_turns", 1, False),
    ("channels.messaging", "reclaim_after_s", 1, False),
    ("console", "session_max_age_s", 60, False),
    ("console", "login_slow_after", 1, False),
    ("console", "login_lockout_after", 1, False),
    ("console", "login_lockout_s", 1, False),
    ("console", "retention_days", 0, True),
    ("console", "unanswered_handoff", 0, False),
]


def check_channel_addresses(config: Config) -> Config:
    """ConfigError for an allowed origin or a trusted proxy that can never match, or a
    malformed public URL; returns the config with the public URL's trailing "/" removed."""
    for origin in config.channels.widget.allowed_origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s*]+", origin.rstrip("/")):
            raise ConfigError(f"'channels.widget.allowed_origins': {origin!r} is not an origin such as "
                              "\"https://www.your-store.example\" (scheme and host, optional port, no path, "
                              "no wildcard) or \"*\"")
    public_url = config.server.public_url
    if public_url:
        config = replace(config, server=replace(config.server, public_url=public_url.rstrip("/")))
    if public_url and not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", public_url):
        raise ConfigError(f"'server.public_url' must be an http(s) URL such as \"https://bot.your-store.example\", "
                          f"got {public_url!r}")
    for proxy in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"'server.trusted_proxies': {proxy!r} is not an IP address or network") from None
    return config


def check_ranges(config: Config) -> Config:
    """Raise ConfigError for a setting outside its range (a pool of 0 connections, a negative timeout)."""
    for section, key, low, exclusive in _RANGES:
        owner = config
        for part in section.split("."):
            owner = getattr(owner, part)
        value = getattr(owner, key)
        if value is not None and (value <= low if exclusive else value < low):
            raise ConfigError(f"'{section}.{key}' must be {'more than' if exclusive else 'at least'} {low}, "
                              f"got {value!r}")
    return config


def apply_env(config: Config, env: dict[str, str]) -> Config:
    """Deployment choices that the environment decides over the file."""
    if env.get(ENV_REDIS_URL):
        config = replace(config, sessions=replace(config.sessions, redis_url=env[ENV_REDIS_URL]))
    if env.get(ENV_ACTION_ENDPOINT):
        config = replace(config, actions=replace(config.actions, endpoint=env[ENV_ACTION_ENDPOINT]))
    if env.get(ENV_LM_MODEL):
        config = replace(config, lm=replace(config.lm, model=env[ENV_LM_MODEL]))
    store = config.store
    if env.get(ENV_STORE_URL):
        store = replace(store, backend_url=env[ENV_STORE_URL].strip())
    if env.get(ENV_TODAY):
        store = replace(store, today=env[ENV_TODAY].strip())
    if store.today:
        try:
            date.fromisoformat(store.today)
        except ValueError:
            raise ConfigError(f"'store.today' (or ${ENV_TODAY}) must be a date like 2026-11-30, "
                              f"got {store.today!r}") from None
    store = replace(store, api_token=env.get(ENV_STORE_API_TOKEN) or None,
                    customer_token_secret=env.get(ENV_CUSTOMER_TOKEN_SECRET) or None)
    if store.backend_url and not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", store.backend_url):
        raise ConfigError(f"'store.backend_url' (or ${ENV_STORE_URL}) must be an http(s) URL, "
                          f"got {store.backend_url!r}")
    if store.api_token and not store.backend_url:
        raise ConfigError(f"${ENV_STORE_API_TOKEN} is set but no store backend is: set 'store.backend_url' "
                          f"or ${ENV_STORE_URL}")
    config = replace(config, store=store)
    if env.get(ENV_PUBLIC_URL):
        config = replace(config, server=replace(config.server, public_url=env[ENV_PUBLIC_URL].strip()))
    return replace(config, platforms=platform_credentials(env))


def rate_limits_checked(config: Config) -> Config:
    """ConfigError unless every rate limit parses ("10/10 seconds")."""
    widget = config.channels.widget
    for key in ("rate_limit_conversation", "rate_limit_ip", "connections_per_ip"):
        try:
            parse_rate_limit(getattr(widget, key))
        except ValueError:
            raise ConfigError(f"'channels.widget.{key}' must be like \"10/10 seconds\" or \"60/minute\", "
                              f"got {getattr(widget, key)!r}") from None
    return config


def secret_key(config: Config, env: dict[str, str] | None = None) -> bytes:
    """The key that signs conversation tokens: $SHOPKEEP_SECRET_KEY, else
    `data_dir/secret_key`, made once (32 random bytes, mode 0600) so that
    tokens survive restarts and every worker process signs alike.

    Raises ConfigError when the key file cannot be read or written."""
    env = os.environ if env is None else env
    if env.get(ENV_SECRET_KEY):
        return env[ENV_SECRET_KEY].encode()
    path = config.data_dir / SECRET_KEY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(os.urandom(32).hex())
        key = path.read_text().strip()
        for _ in range(50):  # another worker made the file a moment ago and is writing it
            if key:
                break
            time.sleep(0.01)
            key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read or create the secret key {path}: {exc}") from None
    if not key:
        raise ConfigError(f"the secret key file {path} is empty; delete it or set {ENV_SECRET_KEY}")
    return key.encode()
