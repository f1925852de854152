"""The actions package as a standard Rasa action server, reached over real HTTP."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace

import aiohttp
import pytest

from bot.server import init_app
from tests.helpers import free_port, say, texts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def action_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=os.getcwd())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"action server exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


async def test_action_server_lists_the_actions(action_server):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{action_server}/actions") as resp:
            names = {a["name"] for a in await resp.json()}
    assert {"action_order_status", "validate_order_status_form", "action_handoff_to_human"} <= names


async def test_order_form_runs_on_the_remote_action_server(aiohttp_client, config, models, action_server):
    remote = replace(config, actions=replace(config.actions, endpoint=f"{action_server}/webhook"))
    client = await aiohttp_client(init_app(remote, models))
    await say(client, "remote-1", "where is my order")
    assert "couldn't find an order SK-4242" in texts(await say(client, "remote-1", "SK-4242"))
    assert "SK-1009" in texts(await say(client, "remote-1", "SK-1009"))


async def test_unreachable_action_server_gets_an_apology(aiohttp_client, config, models):
    remote = replace(config, actions=replace(config.actions, endpoint=f"http://127.0.0.1:{free_port()}/webhook",
                                             timeout_s=2))
    client = await aiohttp_client(init_app(remote, models))
    messages = await say(client, "remote-2", "where is order SK-1002")
    assert "something went wrong" in texts(messages)
