"""Two server processes, one Redis: a message delivered through one process
reaches a widget connected to the other, in a real browser."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.server import init_app
from bot.typedefs import outbox_key
from tests.helpers import start_server

pytestmark = pytest.mark.integration


@pytest.fixture
def other_process(config, models, redis_server, tmp_path):
    """`shopkeep run --workers 1` on the shared Redis (the demo config's key prefix): process B."""
    proc, port = start_server(config.data_dir, redis_server.url, tmp_path / "server.log", workers=1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(30)


async def test_deliver_on_one_process_reaches_a_widget_on_the_other(browser, aiohttp_server, config, models,
                                                                    other_process):
    # process A: this test's own server, on the same Redis and key prefix as B
    shared = replace(config, sessions=replace(config.sessions, key_prefix="shopkeep"))
    process_a = await aiohttp_server(init_app(shared, models))
    page = await browser.new_page()
    await page.goto(other_process + "/")
    await page.click('[data-role="launcher"]')
    await page.fill('[data-role="input"]', "hi")
    await page.keyboard.press("Enter")
    await page.wait_for_selector('[data-role="message"][data-from="bot"][data-entry-id]', timeout=20000)
    conversation_id = await page.evaluate("window.ShopkeepWidget.conversationId")
    assert conversation_id

    entries = await process_a.app[outbox_key].deliver(
        conversation_id, [{"text": "Hello from a person on our team: your parcel is on its way."}], role="agent")
    agent = page.locator('[data-role="message"][data-from="agent"]')
    await agent.first.wait_for(timeout=10000)
    assert "your parcel is on its way" in await agent.first.inner_text()
    assert await agent.count() == 1
    assert await agent.first.get_attribute("data-entry-id") == entries[0]["id"]
    await asyncio.sleep(0.5)  # nothing arrives twice
    assert await agent.count() == 1
