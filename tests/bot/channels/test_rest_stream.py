"""POST /webhooks/rest/stream: knowledge answers arrive sentence by sentence, checked, then whole."""

import json
from dataclasses import replace

import pytest

from bot.server import init_app
from knowledge.answers import KnowledgeAnswerer
from tests.knowledge.test_answers import ScriptedModel

pytestmark = pytest.mark.integration
URL = "/webhooks/rest/stream"


async def lines(resp) -> list[dict]:
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in (await resp.text()).splitlines()]


LEAD = "Yes, standard shipping is free on orders of $50 or more; below that it costs $5.95."


@pytest.fixture
async def streaming_client(aiohttp_client, config, models):
    model = ScriptedModel(f"Good question! {LEAD} Orders under $50 pay a flat rate.")
    answerer = KnowledgeAnswerer(models.answerer.retriever, "Maple & Pine", model)
    return await aiohttp_client(init_app(config, replace(models, answerer=answerer)))


async def test_a_knowledge_answer_streams_checked_sentences_then_the_whole_message(streaming_client):
    rows = await lines(await streaming_client.post(URL, json={"sender": "s1", "message": "is shipping free?"}))
    partials = [r["partial"] for r in rows if "partial" in r]
    # the store's sentences at once, then the model's checked summary ("Good question!" says nothing: dropped)
    assert partials == ["Standard shipping is free on orders of $50 or more; below that it costs $5.95.",
                        "Express shipping costs $14.95 for any order size.", LEAD]
    final = [r for r in rows if "text" in r]
    assert final == [{"recipient_id": "s1", "text": " ".join(partials), "custom": {"sources": ["shipping-cost"]}}]
    assert rows[-1] == {"recipient_id": "s1", "done": True}


async def test_other_replies_come_whole(streaming_client):
    rows = await lines(await streaming_client.post(URL, json={"sender": "s2", "message": "where is my order"}))
    assert not any("partial" in r for r in rows)
    assert "order number" in rows[0]["text"] and rows[-1] == {"recipient_id": "s2", "done": True}


async def test_bad_requests_get_the_same_json_errors_as_the_webhook(streaming_client, aiohttp_client, config, models):
    resp = await streaming_client.post(URL, data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    closed = replace(config, sessions=replace(config.sessions, redis_url="redis://127.0.0.1:1/0"))
    client = await aiohttp_client(init_app(closed, models))
    resp = await client.post(URL, json={"sender": "x", "message": "is shipping free?"})
    assert resp.status == 503 and "Redis" in (await resp.json())["error"]
