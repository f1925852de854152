"""Handoff: the conversation goes to a person from the store's team."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import say


class ActionHandoffToHuman(Action):
    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        say(dispatcher, tracker, domain, "handoff")
        # A paused conversation is the handoff: the bot stays silent until a
        # person resumes it (the console shows it in the queue).
        return [ConversationPaused()]
