"""Where the actions find the store: its records (`knowledge.shop`), its
policy and the secret for customer tokens, from the same configuration the
bot reads ($SHOPKEEP_CONFIG, else the demo store's). An action server started
with the same SHOPKEEP_CONFIG and SHOPKEEP_DATA_DIR sees the same store."""

from __future__ import annotations

from datetime import date, datetime, timezone
from datetime import time as dt_time

from rasa_sdk import Tracker

from bot.config import Config, load_config
from knowledge.shop import Shop, open_shop
from knowledge.shop.identity import CUSTOMER_TOKEN_KEY, token_email
from knowledge.shop.policy import Policy

_opened: dict[str, object] = {}  # "config", "shop": read once per process


def config() -> Config:
    if "config" not in _opened:
        _opened["config"] = load_config()
    return _opened["config"]


def shop() -> Shop:
    """The store's records, opened once per process. Raises ShopDataError for unreadable files."""
    if "shop" not in _opened:
        store = config().store
        _opened["shop"] = open_shop(directory=store.data, journal=config().data_dir / "store" / "changes.jsonl",
                                    backend_url=store.backend_url, api_token=store.api_token,
                                    timeout_s=store.timeout_s, attempts=store.attempts, policy=store.policy)
    return _opened["shop"]


def policy() -> Policy:
    return config().store.policy


def _pinned_day() -> date | None:
    """The day `use(on=...)`, `store.today` or $SHOPKEEP_TODAY pins (demos, tests), or None."""
    pinned = _opened.get("today") or config().store.today
    return date.fromisoformat(pinned) if isinstance(pinned, str) else pinned


def today() -> date:
    """The store's today, for return windows."""
    return _pinned_day() or date.today()


def now() -> datetime:
    """Now (UTC), for the cancellation window; noon of a pinned day."""
    pinned = _pinned_day()
    return datetime.combine(pinned, dt_time(12), timezone.utc) if pinned else datetime.now(timezone.utc)


def use(store_config: Config | None = None, store: Shop | None = None, on: date | None = None) -> None:
    """Replace the configuration, the store and today's date the actions use
    (tests, apps that embed the actions); with no arguments, all are read again."""
    _opened.clear()
    if store_config is not None:
        _opened["config"] = store_config
    if store is not None:
        _opened["shop"] = store
    if on is not None:
        _opened["today"] = on


def customer_email(tracker: Tracker) -> str | None:
    """The e-mail address a valid customer token in the conversation proves
    (the latest message's metadata, else an earlier one's), or None."""
    secret = config().store.customer_token_secret
    if not secret:
        return None
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            token = (event.get("metadata") or {}).get(CUSTOMER_TOKEN_KEY)
            if token:
                return token_email(token, secret)
    token = ((tracker.latest_message or {}).get("metadata") or {}).get(CUSTOMER_TOKEN_KEY)
    return token_email(token, secret)

