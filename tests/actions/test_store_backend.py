"""The order actions on a shop backend's HTTP API that fails: a 500, a
timeout. The shopper is told the order system cannot be reached, nothing is
revealed or changed, and the conversation goes on."""

import asyncio

import pytest
from aiohttp import web

from actions import store_data
from knowledge.shop.http import HttpShop
from tests.conftest import DEMO_TODAY
from tests.helpers import free_port, say, texts


@pytest.fixture
async def backend():
    """A stand-in backend whose every answer is chosen by the test: `state["mode"]`."""
    state = {"mode": "500", "calls": 0}

    async def handle(request):
        state["calls"] += 1
        if state["mode"] == "slow":
            await asyncio.sleep(2)
        return web.json_response({"error": "boom"}, status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/api", state
    await runner.cleanup()


@pytest.mark.parametrize("mode", ["500", "slow"])
async def test_a_failing_backend_gets_a_clear_message(client, config, backend, mode):
    url, state = backend
    state["mode"] = mode
    shop = HttpShop(url, api_token="t0ken", timeout_s=0.3, attempts=2)
    store_data.use(config, shop, on=DEMO_TODAY)
    try:
        await say(client, "be-1", "where is my order")
        reply = texts(await say(client, "be-1", "SK-1002"))
        if "e-mail address" in reply:  # the number is asked about only with the details
            reply = texts(await say(client, "be-1", "sam.lee@example.com"))
        assert "can't reach our order system" in reply and "Merino" not in reply
        assert state["calls"] >= 2  # tried again before giving up
        assert "business days" in texts(await say(client, "be-1", "how long does shipping take?"))
    finally:
        await shop.close()
