"""Many shoppers at once: every reply arrives, every history is complete and in order."""

import asyncio

import pytest

from bot.typedefs import assistant_key

pytestmark = pytest.mark.integration

CONVERSATIONS = 50
MESSAGES = 20
TEMPLATES = ["hi", "how long does shipping take?", "where is my order", "SK-1002", "what is your return policy?",
             "thanks", "can I pay with PayPal?", "never mind", "is your packaging recyclable?", "bye"]


async def test_50_conversations_of_20_messages(client):
    async def converse(n: int) -> list[str]:
        sent = []
        for i in range(MESSAGES):
            text = f"{TEMPLATES[i % len(TEMPLATES)]} [{n}.{i}]"
            resp = await client.post("/webhooks/rest/webhook", json={"sender": f"c{n}", "message": text})
            assert resp.status == 200, await resp.text()
            replies = await resp.json()
            assert replies and all(r["recipient_id"] == f"c{n}" for r in replies)
            sent.append(text)
        return sent

    sent = await asyncio.gather(*(converse(n) for n in range(CONVERSATIONS)))
    sessions = client.app[assistant_key].sessions
    for n, texts in enumerate(sent):
        session = await sessions.load(f"c{n}")
        assert [e["text"] for e in session.history if e["event"] == "user"] == texts
        # every user message is followed by at least one bot message before the next one
        kinds = [e["event"] for e in session.history if e["event"] in ("user", "bot")]
        assert kinds[0] == "user" and "user,user" not in ",".join(kinds)


async def test_messages_of_one_conversation_sent_at_once_are_all_handled_one_by_one(client):
    texts = [f"Do you accept PayPal? ({i})" for i in range(15)]  # each answered (none hands off: silence)
    responses = await asyncio.gather(*(client.post("/webhooks/rest/webhook", json={"sender": "burst", "message": t})
                                       for t in texts))
    assert all(r.status == 200 for r in responses)
    session = await client.app[assistant_key].sessions.load("burst")
    events = [e for e in session.history if e["event"] in ("user", "bot")]
    assert sorted(e["text"] for e in events if e["event"] == "user") == sorted(texts)
    # turns never interleave: user, bot, user, bot ...
    assert [e["event"] for e in events] == ["user", "bot"] * len(texts)
