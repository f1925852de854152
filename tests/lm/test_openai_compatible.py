"""The OpenAI-compatible backend against a local server speaking the documented
chat-completions streaming API (server-sent events)."""

import asyncio
import json

import pytest
from aiohttp import web

from lm.generation import GenerationTimeout, GeneratorBusy
from lm.openai_compatible import OpenAICompatibleGenerator, ServerError, parse_spec

CHAT = [{"role": "user", "content": "Do you ship abroad?"}]


def chunk(content):
    return "data: " + json.dumps({"object": "chat.completion.chunk",
                                  "choices": [{"index": 0, "delta": {"content": content}}]}) + "\n\n"


@pytest.fixture
async def server(aiohttp_server):
    seen = []

    async def completions(request):
        body = await request.json()
        seen.append((body, request.headers.get("Authorization")))
        if body["model"] == "broken":
            return web.json_response({"error": {"message": "model not found"}}, status=404)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for piece in ["We ship ", "to 30 ", "countries."]:
            if body["model"] == "slow":
                await asyncio.sleep(1)
            await resp.write(chunk(piece).encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    srv = await aiohttp_server(app)
    srv.seen = seen
    return srv


async def test_streams_a_reply_and_sends_the_key(server):
    gen = OpenAICompatibleGenerator(f"openai:qwen@http://127.0.0.1:{server.port}/v1/", api_key="k")
    assert await gen.generate(CHAT, max_tokens=50, timeout=5) == "We ship to 30 countries."
    body, auth = server.seen[0]
    assert body["messages"] == CHAT and body["stream"] is True and body["max_tokens"] == 50 and auth == "Bearer k"


async def test_errors_timeouts_and_a_full_queue(server):
    url = f"http://127.0.0.1:{server.port}/v1"
    with pytest.raises(ServerError, match="404"):
        await OpenAICompatibleGenerator(f"openai:broken@{url}").generate(CHAT, timeout=5)
    with pytest.raises(GenerationTimeout):
        await OpenAICompatibleGenerator(f"openai:slow@{url}").generate(CHAT, timeout=0.3)
    with pytest.raises(ServerError, match="unreachable"):
        await OpenAICompatibleGenerator("openai:m@http://127.0.0.1:9/v1").generate(CHAT, timeout=5)
    busy = OpenAICompatibleGenerator(f"openai:slow@{url}", max_waiting=1)
    first = asyncio.create_task(busy.generate(CHAT, timeout=5))
    await asyncio.sleep(0)
    with pytest.raises(GeneratorBusy):
        await busy.generate(CHAT, timeout=5)
    first.cancel()


@pytest.mark.parametrize("spec", ["openai:model", "openai:@http://x/v1", "openai:m@ftp://x"])
def test_a_bad_spec_is_a_clear_error(spec):
    with pytest.raises(ValueError, match="expected openai:MODEL@"):
        parse_spec(spec)
