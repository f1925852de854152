"""The actions package as a standard Rasa action server, reached over real
HTTP; and what the shopper gets when that server is down or slow (case B23)."""

import asyncio
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from bot.server import init_app
from tests.helpers import free_port, say, start_action_server, stop_process, texts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    proc, url = start_action_server({"SHOPKEEP_DATA_DIR": str(tmp_path_factory.mktemp("remote-data"))})
    yield url.rsplit("/", 1)[0]
    stop_process(proc)


async def test_action_server_lists_the_actions(action_server):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{action_server}/actions") as resp:
            names = {a["name"] for a in await resp.json()}
    assert {"action_order_status", "validate_order_status_form", "action_cancel_order", "validate_cancel_order_form",
            "action_create_return", "validate_return_form", "action_change_address", "action_recommend",
            "action_review_summary", "action_handoff_to_human"} <= names


@pytest.fixture
async def down_client(aiohttp_client, config, models):
    """The bot with its action endpoint pointing at a port where nothing listens."""
    remote = replace(config, actions=replace(config.actions, endpoint=f"http://127.0.0.1:{free_port()}/webhook",
                                             timeout_s=2))
    return await aiohttp_client(init_app(remote, models))


async def test_a_failed_validation_does_not_poison_the_conversation(down_client):
    """Case B23: the order number's validation fails (server down); the number is
    not kept, the form stops, and questions and the handoff still work."""
    assert "business days" in texts(await say(down_client, "b23", "how long does shipping take?"))
    assert "order number" in texts(await say(down_client, "b23", "where is my order"))
    assert "something went wrong" in texts(await say(down_client, "b23", "SK-1002"))
    assert "price" in texts(await say(down_client, "b23", "do you price match?")).lower()
    handoff = texts(await say(down_client, "b23", "I want to talk to a human"))
    assert "passing this" in handoff
    # handed off: the bot is silent from now on
    assert await say(down_client, "b23", "hello?") == []


async def test_handoff_from_inside_a_form_without_an_action_server(down_client):
    assert "order number" in texts(await say(down_client, "b23-form", "where is my order"))
    reply = texts(await say(down_client, "b23-form", "I want to talk to a human"))
    assert "passing this" in reply and "went wrong" not in reply
    assert await say(down_client, "b23-form", "hello?") == []


async def test_handoff_without_an_action_server_in_chinese(down_client):
    reply = texts(await say(down_client, "b23-zh", "我要找人工客服"))
    assert "转接" in reply


async def test_recommendations_and_reviews_need_their_server(down_client):
    reply = texts(await say(down_client, "down-3", "recommend a gift for my mum under 50"))
    assert "something went wrong" in reply and "person" in reply


async def test_a_slow_action_server_times_out_with_a_clear_message(aiohttp_client, config, models):
    async def slow(request):
        await asyncio.sleep(5)
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        remote = replace(config, actions=replace(config.actions, endpoint=f"http://127.0.0.1:{port}/webhook",
                                                 timeout_s=0.5))
        client = await aiohttp_client(init_app(remote, models))
        assert "order number" in texts(await say(client, "slow-1", "where is my order"))
        assert "something went wrong" in texts(await say(client, "slow-1", "SK-1002"))
        assert "business days" in texts(await say(client, "slow-1", "how long does shipping take?"))
    finally:
        await runner.cleanup()
