"""The turn: the whole path of one message through the bot, in order.

    wait for this conversation's turn (Redis ticket lock)
    -> load the session from Redis
    -> intent layer: intent, confidence, entities
    -> dialogue: decide the actions and run them (custom actions,
       responses, forms, answers from the store's knowledge)
    -> save the session (one Redis transaction)
    -> the bot's messages, for the channel to deliver
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.dialogue.engine import Dialogue
from bot.nlu.interpreter import Interpreter
from bot.sessions.lock import ConversationLock
from bot.sessions.store import SessionStore


@dataclass
class Assistant:
    interpreter: Interpreter
    dialogue: Dialogue
    sessions: SessionStore
    locks: ConversationLock

    async def handle_turn(self, sender_id: str, text: str, metadata: dict | None = None,
                          channel: str = "rest", on_text=None) -> list[dict]:
        """The bot's replies to one message. `on_text` (async, optional) gets
        knowledge answers sentence by sentence while they are written."""
        async with self.locks.hold(sender_id):
            session = await self.sessions.load(sender_id)
            parse = await asyncio.to_thread(self.interpreter.parse, text)
            session.record({"event": "user", "text": text, "parse_data": parse,
                            "input_channel": channel, "metadata": metadata or {}})
            messages = await self.dialogue.respond(session, parse, on_text)
            await self.sessions.save(session)
        return messages
