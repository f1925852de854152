"""Two server processes, one Redis: a shopper's handoff on one process shows live
in an agent's console connected to the other, and the agent's reply from there
reaches the shopper's widget, in real browsers."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from bot.console.agents import AgentStore
from bot.server import init_app
from bot.sessions.redis_client import connect
from tests.browser.test_console import (
    LIVE_WITHIN_S,
    PASSWORD,
    Problems,
    no_problems,
    open_console,
    open_conversation,
    queue_item,
    reply,
    shopper_sees,
    shows_up_live,
    take_over,
    widget_messages,
)
from tests.browser.test_widget import HOOK, TIMEOUT_MS, ask, open_chat
from tests.helpers import start_server, stop_process

pytestmark = pytest.mark.integration

PREFIX = "shopkeep"  # the demo config's key prefix, which `shopkeep run` uses


@pytest.fixture
def other_process(config, models, redis_server, tmp_path):
    """`shopkeep run --workers 1` on the shared Redis (the demo config's key prefix): process B."""
    proc, port = start_server(config.data_dir, redis_server.url, tmp_path / "server.log", workers=1)
    yield f"http://127.0.0.1:{port}"
    stop_process(proc, 30)


@pytest.fixture
async def shared_agent(config):
    """An agent (role agent) in the shared Redis under the demo prefix, gone after the test."""
    client = connect(config.sessions.redis_url, 5, 5, 5)
    store = AgentStore(client, PREFIX)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    await store.add(name, PASSWORD, "agent")
    yield name
    await store.remove(name)
    await client.aclose()


async def test_a_handoff_on_one_process_shows_live_in_a_console_on_the_other(
        browser, aiohttp_server, config, models, other_process, shared_agent):
    # process A: this test's own server, on the same Redis and key prefix as B; the console is on A
    shared = replace(config, sessions=replace(config.sessions, key_prefix=PREFIX))
    process_a = await aiohttp_server(init_app(shared, models))
    agent_ctx, console, console_problems = await open_console(browser, str(process_a.make_url("/")),
                                                              name=shared_agent)

    # the shopper's widget is on B
    shopper_ctx = await browser.new_context()
    shopper_ctx.set_default_timeout(TIMEOUT_MS)
    shopper = await shopper_ctx.new_page()
    shopper_problems = Problems(shopper)
    await shopper.add_init_script(HOOK)
    await shopper.goto(other_process + "/")
    await shopper.wait_for_function("() => !!window.ShopkeepWidget")
    await open_chat(shopper)
    conversation_id = await shopper.evaluate("ShopkeepWidget.conversationId")
    assert conversation_id

    await ask(shopper, "I want to talk to a person")  # answered by B
    took = await shows_up_live(console, conversation_id)  # on A, over A's live socket
    assert took < LIVE_WITHIN_S
    assert await queue_item(console, conversation_id).locator("[data-role=queue-reason]").text_content() \
        == "Asked for a person"

    view = await open_conversation(console, conversation_id)
    await take_over(console, view)
    text = "Hello, this is a person from the team, answering from another server."
    await reply(console, view, text)
    shown = await shopper_sees(shopper, "agent", text)
    assert await shown.locator("[data-role=text]").text_content() == text
    assert await widget_messages(shopper, "agent").count() == 1

    # tidy the shared queue for whatever runs next on this Redis
    await view.locator("[data-role=resolve]").click()
    await queue_item(console, conversation_id).wait_for(state="detached")
    no_problems(console_problems, shopper_problems)
    await shopper_ctx.close()
    await agent_ctx.close()
