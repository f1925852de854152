"""A real browser against a real server: Debian's Chromium driven by
Playwright, and the bot's app on a real TCP port (same event loop)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SHOPKEEP_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network: no background connections, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-features=LocalNetworkAccessChecks"]


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def pytest_collection_modifyitems(config, items):
    missing = _browser_missing()
    if missing is None:
        return
    if os.environ.get("SHOPKEEP_BROWSER_TESTS") == "required":  # CI: a missing browser is a failure
        raise pytest.UsageError(f"browser tests required but {missing}")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def live_server(aiohttp_server, config, models):
    """The bot (demo store, no language model) on a real port: `live_server.make_url("/")`."""
    from bot.server import init_app

    return await aiohttp_server(init_app(config, models))
