"""The turn: the whole path of one message through the bot, in order.

    wait for this conversation's turn (Redis ticket lock)
    -> load the session from Redis
    -> intent layer: intent, confidence, entities (a greeting before a
       question does not hide the question; a message that asks for a task
       and also asks a question gets both)
    -> dialogue: decide the actions and run them (custom actions,
       responses, forms, answers from the store's knowledge)
    -> save the session (one atomic Redis script, only while the turn
       still holds the lock)
    -> the bot's messages, for the channel to deliver

A message that carries a `message_id` in its metadata is handled once: when a
client resends it (its first try timed out, or a platform redelivers a
webhook), the replies saved for it are sent again and nothing runs twice.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from typing import Callable

from bot.console.desk import HandoffDesk
from bot.dialogue.engine import Dialogue
from bot.nlu.interpreter import Interpreter
from bot.sessions.lock import ConversationLock
from bot.sessions.redis_client import SessionStoreUnavailable
from bot.sessions.store import SessionStore
from knowledge.answers import ASK, ASK_ZH
from knowledge.query import split_parts, strip_greeting
from lm.language import has_chinese

log = logging.getLogger(__name__)

# Intents that say nothing the shopper wants done: a question after them is the message.
SMALL_TALK = frozenset({"greet", "thank", "goodbye"})


def replies_saved_for(history: list[dict], message_id, text: str) -> list[dict] | None:
    """The bot's messages saved after the user message with `message_id` and
    the same `text`, or None when there is none (it was never handled). A
    different text under a used id is a new message (a client that restarted
    its ids), not a resend."""
    for i in range(len(history) - 1, -1, -1):
        event = history[i]
        if (event.get("event") == "user" and (event.get("metadata") or {}).get("message_id") == message_id
                and event.get("text") == text):
            replies = []
            for later in history[i + 1:]:
                if later.get("event") == "user":
                    break
                if later.get("event") == "bot":
                    replies.append({"text": later.get("text"), **(later.get("data") or {})})
            return replies
    return None


@dataclass
class Assistant:
    """The turn pipeline. `sentiment` (blocking, optional): text -> {"label", "score"} for the
    negative-sentiment handoff. `desk` (optional): the handoff console's records, told of every turn."""

    interpreter: Interpreter
    dialogue: Dialogue
    sessions: SessionStore
    locks: ConversationLock
    sentiment: Callable[[str], dict] | None = None
    desk: HandoffDesk | None = None

    async def handle_turn(self, sender_id: str, text: str, metadata: dict | None = None,
                          channel: str = "rest", on_text=None) -> list[dict]:
        """The bot's replies to one message. `on_text` (async, optional) gets
        knowledge answers sentence by sentence while they are written."""
        if not any(ch.isalnum() for ch in text):
            # nothing to understand ("", "  ", "?", "...", "👍"): a short prompt, nothing stored or
            # searched; silence while a person has the conversation
            if await self.sessions.handed_off(sender_id):
                return []
            return [self.empty_message_reply(text)]
        async with self.locks.hold(sender_id) as held:
            session = await self.sessions.load(sender_id)
            message_id = (metadata or {}).get("message_id")
            if message_id is not None and (saved := replies_saved_for(session.history, message_id, text)) is not None:
                return saved
            parse, questions = await asyncio.to_thread(self.understand, text)
            session.record({"event": "user", "text": text, "parse_data": parse,
                            "input_channel": channel, "metadata": metadata or {}})
            before = copy.deepcopy(session.handoff)
            messages = await self.dialogue.respond(session, parse, on_text, questions)
            events = list(session.new_events)
            await self.sessions.save(session, fence=held.fence)
            if self.desk is not None:
                # the console's queue, index and traces, still under the lock so that a handoff's start
                # and end reach it in order; the turn is saved whatever happens here
                try:
                    await self.desk.after_turn(sender_id, channel, before, session, events)
                except SessionStoreUnavailable as exc:
                    log.error("conversation %s: the console was not told of this turn: %s", sender_id, exc)
        return messages

    def empty_message_reply(self, text: str) -> dict:
        """The prompt for a message with nothing to understand: the store's "what would you like to
        know?", or, for a bot with no knowledge (a Rasa project), its own `utter_default`."""
        dialogue = self.dialogue
        if not dialogue.answerer.retriever.passages and "utter_default" in dialogue.domain.responses:
            return dialogue.domain.render("utter_default", {})[0]
        return {"text": ASK_ZH if has_chinese(text) else ASK}

    def understand(self, text: str) -> tuple[dict, list[str]]:
        """`parse` below, with the message's sentiment when the pipeline has a sentiment model."""
        parse, questions = self.parse(text)
        if self.sentiment is not None:
            parse["sentiment"] = self.sentiment(text)
        return parse, questions

    def parse(self, text: str) -> tuple[dict, list[str]]:
        """(the parse that decides the turn, further questions in the same
        message to answer from knowledge). Blocking (runs the encoders).

        "Hi!\nWhere is your store?" is parsed without its greeting. In "Do you
        accept PayPal? Also, where is my order SK-1002?" the task decides the
        turn and the other part is answered from knowledge after it."""
        parse = self.interpreter.parse(text)
        rest = strip_greeting(text)
        if parse["intent"]["name"] in SMALL_TALK and rest != text.strip():
            parse = {**self.interpreter.parse(rest), "text": text}
        parts = split_parts(rest)
        if len(parts) < 2:
            return parse, []
        parsed = self.interpreter.parse_batch(parts)
        asks = [self.dialogue.answers_from_knowledge(p["intent"]["name"]) for p in parsed]
        tasks = [p for p, ask in zip(parsed, asks) if not ask and p["intent"]["name"] not in SMALL_TALK]
        if not tasks or all(not ask for ask in asks):
            return parse, []
        return {**tasks[0], "text": text}, [part for part, ask in zip(parts, asks) if ask]
