"""Deciding and running the actions that answer one message.

As Rasa's processor: the next action is predicted from the conversation so far
(bot/dialogue/policy.py: rules, stories, the active form), run, and predicted
again, until the prediction is action_listen. Forms ask for their required
slots one at a time; a message that does not answer the form is handled by the
rules and stories (a question is answered) and the form asks again. Custom
actions run through an ActionRunner (in process or on a Rasa action server);
responses, forms, Rasa's default actions and knowledge answers are built in.
Around that, shopkeep's own: the handoff to a person (asked for, after
unanswered questions, on strong negative sentiment), support hours, and the
shopper's language.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque

from bot.console.hours import SupportHours
from bot.dialogue.custom_actions import ActionFailed, ActionRunner
from bot.dialogue.domain import Domain
from bot.dialogue.policy import (
    ACTION_BACK,
    ACTION_DEACTIVATE_LOOP,
    ACTION_DEFAULT_ASK_AFFIRMATION,
    ACTION_DEFAULT_ASK_REPHRASE,
    ACTION_DEFAULT_FALLBACK,
    ACTION_RESTART,
    ACTION_SESSION_START,
    ACTION_TWO_STAGE_FALLBACK,
    DEFAULT_ACTIONS,
    PolicyEnsemble,
    TrackerState,
)
from bot.dialogue.rules import ANSWER_FROM_KNOWLEDGE
from bot.dialogue.stories import ACTION_LISTEN
from bot.sessions.store import Session
from knowledge.answers import DONT_KNOW, DONT_KNOW_ZH, KnowledgeAnswerer
from knowledge.shop.identity import EMAIL
from lm.language import has_chinese

log = logging.getLogger(__name__)

FORM_STOPPED = "action_stop_form"  # shopkeep's own: a form that rejected "no" or "stop" ends, and says so
FALLBACK_INTENT = "nlu_fallback"
STOP_INTENT = "stop"  # ends a form, or takes back a request for a person
RASA_SDK_VERSION = "3.21.1"
AFFIRM_INTENT = "affirm"
DENY_INTENT = "deny"
HANDOFF_INTENT = "human_handoff"  # the intent whose rule hands the conversation to a person
HANDOFF_REMINDER_S = 900  # while handed off the bot is silent, but a shopper back after this long is reminded
# Quick replies under "I don't know; would you like a person?": the shopper's answer, as text.
OFFER_BUTTONS = {"en": [{"title": "Yes, connect me", "payload": "I want to talk to a person"},
                        {"title": "No, thanks", "payload": "no thanks"}],
                 "zh": [{"title": "转接人工客服", "payload": "我要转人工客服"},
                        {"title": "不用了", "payload": "不用了，谢谢"}]}
# What the shopper is told when the conversation goes to a person (also the handoff action's words).
HANDOFF_TEXT = {"en": "I'm passing this conversation to a person from our team. They'll reply here as soon as "
                      "they can, and they can see what we've talked about so far.",
                "zh": "我正在为您转接我们团队的工作人员。他们会尽快在这里回复您，并能看到我们之前的对话。"}
# Why a conversation went to a person (the console's queue shows these).
ASKED_FOR_PERSON = "asked_for_person"  # the shopper asked (the handoff intent, or "yes" to the offer)
NOT_ANSWERED = "not_answered"  # the bot could not answer `unanswered_handoff` questions in a row
NEGATIVE_SENTIMENT = "negative_sentiment"  # the shopper's message was strongly negative
HANDOFF_ACTION = "handoff_action"  # a custom action paused the conversation for another reason
AGENT_PICKED = "agent_picked"  # an agent took the conversation over from the console
HANDOFF_REASONS = (ASKED_FOR_PERSON, NOT_ANSWERED, NEGATIVE_SENTIMENT, HANDOFF_ACTION, AGENT_PICKED)
# Outside support hours, after the handoff message: when to expect a person, and an e-mail address asked for.
AFTER_HOURS_TEXT = {"en": "Our team is away right now: we're here {hours}. A person will reply from {next}. "
                          "If you'd rather get the answer by e-mail, type your e-mail address here.",
                    "zh": "我们的团队现在不在线，服务时间：{hours}。工作人员会在{next}起回复您。"
                          "如果您希望通过电子邮件收到回复，请在这里输入您的邮箱地址。"}
# "I don't know" when a person takes over straight after (DONT_KNOW without its offer).
NOT_KNOWN_TEXT = {"en": "I'm sorry, I don't have reliable information about that either, and I don't want to guess.",
                  "zh": "抱歉，这个问题我也没有可靠的信息，不想随便猜测。"}
EMAIL_NOTED_TEXT = {"en": "Thank you. If we can't answer you here, our team will write to {email}.",
                    "zh": "谢谢！如果无法在这里回复您，我们的团队会发邮件到 {email}。"}
FORM_STOPPED_TEXT = {"en": "No problem, I've stopped. Anything else I can help with?",
                     "zh": "好的，已经停止了。还有什么可以帮您的吗？"}
TWO_STAGE_TEXT = {"en": "Sorry, I'm not sure I understood. Did you mean one of these?",
                  "zh": "抱歉，我不太确定您的意思。您是指下面哪一个？"}
LANGUAGE_SLOT = "language"  # filled with the shopper's language when the domain declares it
NOT_LANGUAGE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")  # e-mail addresses and links tell no language
MAX_ACTIONS_PER_TURN = 10  # a followup loop in a custom action must not spin forever

# Keys of a bot message that channels deliver (Rasa's REST format).
MESSAGE_KEYS = ("text", "buttons", "image", "attachment", "custom", "elements", "quick_replies")
# The keys rasa-sdk's utter_message always sends; any others are the caller's template values.
RESPONSE_KEYS = (*MESSAGE_KEYS, "template", "response", "json_message", "recipient_id")


class Dialogue:
    """Decides and runs the actions that answer each user message, as Rasa's processor does: predict
    the next action (bot.dialogue.policy: rules, stories, the active form), run it, and again, until
    the prediction is action_listen.

    `hours`: when people answer (default: always). `negative_sentiment`: hand off when a message's
    sentiment score (-1..1, parse["sentiment"]["score"]) is at or below it (None: never).
    `unanswered`: hand off after this many unanswered questions in a row (0: never)."""

    def __init__(self, domain: Domain, policy: PolicyEnsemble, actions: ActionRunner, answerer: KnowledgeAnswerer,
                 hours: SupportHours | None = None, negative_sentiment: float | None = None, unanswered: int = 0):
        self.domain = domain
        self.policy = policy
        self.actions = actions
        self.answerer = answerer
        self.hours = hours or SupportHours.parse(())
        self.negative_sentiment = negative_sentiment
        self.unanswered = unanswered
        self._plans: dict[str, list[str]] = {}

    # -- what the policies would do -----------------------------------------

    def plan(self, intent: str) -> list[str]:
        """The actions a conversation's first message with `intent` gets (predicted, not run; the
        fallback when nothing is predicted). Cached: the policies do not change while running."""
        if intent not in self._plans:
            events = [{"event": "action", "name": ACTION_LISTEN},
                      {"event": "user", "intent": intent, "entities": []}]
            actions: list[str] = []
            while len(actions) < MAX_ACTIONS_PER_TURN:
                action = self.policy.predict(events).action
                if action is None and not actions:
                    action = self.fallback_action()
                if action in (None, ACTION_LISTEN):
                    break
                actions.append(action)
                events.append({"event": "action", "name": action})
                if action in self.domain.forms:
                    break  # what follows depends on the shopper's answers
            self._plans[intent] = actions
        return self._plans[intent]

    def fallback_action(self) -> str:
        """What a message no rule or story covers gets: Rasa's action_default_fallback (the domain's
        `utter_default`), or, in a domain without utter_default, an answer from the store's knowledge
        (which says when it does not know and offers a person), never silence (case A24)."""
        return ACTION_DEFAULT_FALLBACK if "utter_default" in self.domain.responses else ANSWER_FROM_KNOWLEDGE

    def answers_from_knowledge(self, intent: str) -> bool:
        """True when `intent` is answered from the store's knowledge."""
        return ANSWER_FROM_KNOWLEDGE in self.plan(intent)

    @property
    def can_hand_off(self) -> bool:
        return bool(self.plan(HANDOFF_INTENT)) and HANDOFF_INTENT in self.domain.intents

    def _handoff_actions(self) -> list[str]:
        return self.plan(HANDOFF_INTENT) if self.can_hand_off else []

    # -- one turn -------------------------------------------------------------

    async def respond(self, session: Session, parse: dict, on_text=None, questions: list[str] = ()) -> list[dict]:
        """The bot's messages for the latest user message; updates `session`.
        `on_text` (async) receives knowledge answers as they are written, for
        channels that stream; the returned messages hold them whole as well.
        `questions`: other questions in the same message, answered from
        knowledge after the turn's own actions."""
        intent = parse["intent"]["name"]
        self._begin(session, parse)
        turn = _Turn(session, parse, on_text)
        self._set_language(session, turn.text)
        handed_off = bool(session.handoff)
        if session.handoff:
            if intent == STOP_INTENT and not session.handoff.get("agent"):  # (not once a person is answering)
                session.handoff = None
                session.record({"event": "resume"})
                turn.queue.append("utter_handoff_cancelled")
            elif not session.handoff.get("agent") and (email := EMAIL.search(turn.text)):
                # before a person has taken over, the shopper left an address to be answered at (as the
                # after-hours message, and the handoff message of a channel that cannot show a reply, ask)
                session.handoff["contact_email"] = email.group(0)
                turn.say({"text": EMAIL_NOTED_TEXT[self._lang(session)].format(email=email.group(0))})
            elif self._shopper_quiet_for(session) >= HANDOFF_REMINDER_S:
                # the bot stays silent while a person has the conversation (it cannot see what
                # the person writes); a shopper who comes back after a long silence is told once
                # more that their message reached the team
                turn.queue.append("utter_handoff_pending")
            await self._run_queue(turn)
        else:
            self._fill_slots(session, parse)
            if session.active_form:
                pass  # the form decides first (the policies predict it)
            elif intent == AFFIRM_INTENT and self._offered_a_person(session):
                turn.queue.extend(self._handoff_actions())  # "yes" to "would you like a person?"
            elif self._angry(parse):
                # a strongly negative message goes to a person at once; a question the store's knowledge
                # answers is answered first ("Why was my payment declined?!"), then the person is called
                turn.handoff_reason = NEGATIVE_SENTIMENT
                if not self.answers_from_knowledge(intent):
                    turn.queue.extend(self._handoff_actions())
            await self._run_queue(turn)
            if not session.handoff and not turn.ended:
                await self._predict_and_run(turn)
        if not session.handoff:
            for question in questions:
                await self._answer_from_knowledge(turn, question)
        if turn.handoff_reason == NEGATIVE_SENTIMENT and not session.handoff:  # (answered first, above)
            for action in self._handoff_actions():
                await self._run(action, turn)
        if session.handoff and not handed_off and not self.hours.is_open():
            # no one is there now: say when someone will be, and offer to answer by e-mail
            session.handoff["after_hours"] = True
            lang = self._lang(session)
            turn.say({"text": AFTER_HOURS_TEXT[lang].format(hours=self.hours.describe(lang),
                                                            next=self.hours.when(self.hours.next_open(), lang))})
        if not handed_off or not session.handoff:
            session.record({"event": "action", "name": ACTION_LISTEN})
        return turn.messages

    def _begin(self, session: Session, parse: dict) -> None:
        """Put the turn's events in Rasa's order: a new conversation (or one whose session expired, per
        the domain's session_config) starts with action_session_start, session_started (slots carried
        over as slot events) and action_listen, before the user message (recorded here when the caller
        did not record it)."""
        user = next((e for e in session.new_events if e.get("event") == "user"), None)
        if user is None:
            user = {"event": "user", "text": parse.get("text", ""), "parse_data": parse}
            session.record(user)
        earlier = any(e.get("event") == "action" for e in session.history)
        expiry_min, carry_over = self.domain.session_config
        last_time = session.history[-1].get("timestamp", 0) if session.history else 0
        expired = earlier and expiry_min > 0 and user.get("timestamp", time.time()) - last_time > expiry_min * 60
        if earlier and not expired:
            return
        start = [{"event": "action", "name": ACTION_SESSION_START}, {"event": "session_started"}]
        if expired:
            if session.handoff or session.active_form:
                return  # a person or a form is still on it: the session goes on
            kept = {k: v for k, v in session.slots.items() if v is not None} if carry_over else {}
            session.slots = self.domain.initial_slots
            session.slots.update(kept)
            start += [{"event": "slot", "name": k, "value": v} for k, v in kept.items()]
        else:  # initial values, on the first message
            session.slots = {**self.domain.initial_slots, **session.slots}
        start.append({"event": "action", "name": ACTION_LISTEN})
        at = session.new_events.index(user)
        stamp = user.get("timestamp", time.time())
        session.new_events[at:at] = [{**e, "timestamp": stamp} for e in start]

    async def _run_queue(self, turn: "_Turn") -> None:
        """Run the actions the turn queued itself (a handoff, a reminder)."""
        while turn.queue and not turn.ended:
            await self._run_safely(turn.queue.popleft(), turn)

    async def _predict_and_run(self, turn: "_Turn") -> None:
        """Predict the next action and run it until the prediction is action_listen (Rasa's loop)."""
        session = turn.session
        for _ in range(MAX_ACTIONS_PER_TURN):
            if turn.queue:
                action, interrupted = turn.queue.popleft(), False
            else:
                prediction = self.policy.predict(session.events)
                action, interrupted = prediction.action, prediction.interrupted_loop
                if action is None:
                    action = self.unpredicted_action(prediction.tracker, turn.intent)
                    interrupted = action == session.active_form  # asked again, not validated again
            if action in (None, ACTION_LISTEN):
                return
            await self._run_safely(action, turn, interrupted)
            if turn.ended or session.handoff:
                return
        log.warning("conversation %s: %d actions in one turn; waiting for the shopper", session.sender_id,
                    MAX_ACTIONS_PER_TURN)

    def unpredicted_action(self, tracker: TrackerState, intent: str | None) -> str | None:
        """The action when no rule or story decides. Straight after the shopper's message: a form that
        rejected it stops when the shopper said no or stop (cases B10, A15), else the fallback action
        (the form then asks again). After another action: the rejected form asks again, or the bot
        waits for the shopper (None). "Yes" that a form rejected gets the form's question again.
        In the test stories (bot.dialogue.story_test) the same choice is the prediction."""
        if tracker.latest_action == ACTION_LISTEN:
            if tracker.active_loop and intent in (STOP_INTENT, DENY_INTENT):
                return FORM_STOPPED
            if tracker.active_loop and intent == AFFIRM_INTENT:
                return tracker.active_loop  # "yes" with nothing to confirm: the question again
            return self.fallback_action()
        if tracker.active_loop and tracker.latest_action != tracker.active_loop:
            return tracker.active_loop
        return None

    async def _run_safely(self, action: str, turn: "_Turn", interrupted: bool = False) -> None:
        """Run one action; a failure is apologised for and ends the turn's actions."""
        session = turn.session
        try:
            await self._run(action, turn, interrupted)
        except ActionFailed as exc:
            log.error("conversation %s: %s", session.sender_id, exc)
            self._apologise(turn)
        except Exception:
            log.exception("conversation %s: action %s crashed", session.sender_id, action)
            self._apologise(turn)

    def _angry(self, parse: dict) -> bool:
        """The message scores at or below the negative-sentiment threshold, and a rule can hand off."""
        score = (parse.get("sentiment") or {}).get("score")
        return (self.negative_sentiment is not None and score is not None and score <= self.negative_sentiment
                and self.can_hand_off and parse["intent"]["name"] != STOP_INTENT)

    @staticmethod
    def _lang(session: Session) -> str:
        return "zh" if session.slots.get(LANGUAGE_SLOT) == "zh" else "en"

    def _handoff_state(self, turn: "_Turn") -> dict:
        """The session's handoff record for a handoff in this turn: when, and why (HANDOFF_REASONS)."""
        reason = turn.handoff_reason or (ASKED_FOR_PERSON if turn.intent in (HANDOFF_INTENT, AFFIRM_INTENT)
                                         else HANDOFF_ACTION)
        return {"since": time.time(), "reason": reason}

    def _unanswered_before(self, session: Session) -> int:
        """How many of the shopper's latest earlier messages in a row got an "I don't know" answer."""
        count, abstained = 0, False
        for event in reversed(session.history):
            if event.get("event") == "bot" and ((event.get("data") or {}).get("custom") or {}).get("abstained"):
                abstained = True
            elif event.get("event") == "user":
                if not abstained:
                    break
                count, abstained = count + 1, False
            elif event.get("event") in ("pause", "resume"):  # a person has answered since
                break
        return count

    @staticmethod
    def _shopper_quiet_for(session: Session) -> float:
        """Seconds between the shopper's previous message and this one."""
        last = next((e for e in reversed(session.history) if e.get("event") == "user"), None)
        return time.time() - last.get("timestamp", 0) if last else float("inf")

    def _offered_a_person(self, session: Session) -> bool:
        """The bot's last message said it did not know and offered a person, and a rule can hand off."""
        if not self.can_hand_off:
            return False
        last = next((e for e in reversed(session.history) if e.get("event") == "bot"), None)
        return bool(last and ((last.get("data") or {}).get("custom") or {}).get("abstained"))

    def _set_language(self, session: Session, text: str) -> None:
        """Fill the domain's `language` slot, if it declares one, with the
        shopper's language ("zh" or "en"), so responses can have a variant per
        language (`condition: [{type: slot, name: language, value: zh}]`).
        A message with no language in it ("SK-1002", "ok") keeps the last one."""
        if LANGUAGE_SLOT not in self.domain.slots:
            return
        text = NOT_LANGUAGE.sub(" ", text)  # an e-mail address or a link is in no language
        if has_chinese(text):
            language = "zh"
        elif len(re.findall(r"[A-Za-z]{2,}", text)) >= 2:
            language = "en"
        else:
            language = session.slots.get(LANGUAGE_SLOT) or "en"
        if session.slots.get(LANGUAGE_SLOT) != language:
            self._set_slot(session, LANGUAGE_SLOT, language)

    def _hand_off(self, turn: "_Turn") -> None:
        """The handoff done here, when the handoff action could not run: the
        conversation is paused for a person, and the shopper is told."""
        session = turn.session
        turn.queue.clear()
        self._deactivate(session)
        session.handoff = self._handoff_state(turn)
        session.record({"event": "pause"})
        turn.say(self.domain.render("utter_handoff", session.slots, turn.channel)[0]
                 if "utter_handoff" in self.domain.responses
                 else {"text": HANDOFF_TEXT["zh" if session.slots.get(LANGUAGE_SLOT) == "zh" else "en"]})

    def _apologise(self, turn: "_Turn") -> None:
        """Say sorry for a failed action; the turn's other actions are not run (the shopper is not
        taken further, to a survey say, after an error)."""
        turn.queue.clear()
        turn.ended = True
        turn.say(self.domain.render("utter_error", turn.session.slots, turn.channel)[0]
                 if "utter_error" in self.domain.responses
                 else {"text": "Sorry, something went wrong on our side. Please try again."})

    # -- slots and forms ---------------------------------------------------

    def _fill_slots(self, session: Session, parse: dict) -> None:
        """Fill slots from the message by their mappings, as Rasa's action_extract_slots does:
        `from_entity` (the entity's value; with `role`/`group`, only an entity with that role or
        group), `from_text` (the whole message), `from_intent` (the mapping's `value` when the intent
        matches), each only when its `conditions` ([{active_loop, requested_slot}]) hold, its
        `intent`/`not_intent` lists allow the message's intent, and the active form does not ignore
        the intent. `from_trigger_intent` fills when a form starts (_trigger_slots); `custom` is left
        to custom actions."""
        intent = parse["intent"]["name"]
        form = ((self.domain.raw.get("forms") or {}).get(session.active_form) or {}) if session.active_form else {}
        if intent in _as_list(form.get("ignored_intents") or []):
            return
        for slot, spec in self.domain.slots.items():
            for mapping in spec.get("mappings") or []:
                kind = mapping.get("type")
                if not self._mapping_applies(session, mapping, intent):
                    continue
                if kind == "from_entity":
                    values = [e["value"] for e in parse.get("entities", [])
                              if e["entity"] == mapping.get("entity")
                              and all(e.get(k) == mapping[k] for k in ("role", "group") if mapping.get(k))]
                    if not values:
                        continue
                    value = values if spec.get("type") == "list" else values[0]
                elif kind == "from_text":
                    value = parse.get("text", "")
                elif kind == "from_intent":  # (no intent list: any intent, as Rasa's intent_is_desired)
                    value = mapping.get("value")
                else:
                    continue
                self._set_slot(session, slot, value)
                break

    def _trigger_slots(self, session: Session, form: str, intent: str | None) -> None:
        """`from_trigger_intent` mappings of the form's slots, when the message starting the form has
        the mapping's intent (Rasa does not check their `conditions`, which name the form itself)."""
        for slot in self.domain.forms.get(form, []):
            for mapping in (self.domain.slots.get(slot) or {}).get("mappings") or []:
                if mapping.get("type") != "from_trigger_intent" or not _intent_allowed(mapping, intent):
                    continue
                self._set_slot(session, slot, mapping.get("value"))
                break

    @staticmethod
    def _mapping_applies(session: Session, mapping: dict, intent: str) -> bool:
        if not _intent_allowed(mapping, intent):
            return False
        conditions = mapping.get("conditions") or []
        if not conditions:
            return True
        return any(session.active_form == condition.get("active_loop")
                   and ("requested_slot" not in condition
                        or session.requested_slot == condition["requested_slot"])
                   for condition in conditions)

    @staticmethod
    def _set_slot(session: Session, name: str, value) -> None:
        session.slots[name] = value
        session.record({"event": "slot", "name": name, "value": value})

    def _activate(self, session: Session, form: str) -> None:
        session.active_form = form
        session.record({"event": "active_loop", "name": form})

    def _deactivate(self, session: Session) -> None:
        if session.active_form:
            session.active_form = None
            session.requested_slot = None
            session.record({"event": "active_loop", "name": None})

    def _this_turns_slot_events(self, session: Session, form: str) -> list[dict]:
        """The slot events of the form's slots since the shopper's latest message."""
        events = session.events
        last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
        return [e for e in events[last_user + 1:] if e.get("event") == "slot"
                and e.get("name") in (*self.domain.forms[form], "requested_slot")]

    async def _run_form(self, form: str, turn: "_Turn", interrupted: bool = False) -> None:
        """Rasa's form loop: start (slots from the trigger intent), validate what the shopper's message
        filled (the `validate_<form>` custom action, when there is one), then ask for the next missing
        slot (`requested_slot`), or end (active_loop null) when none is missing. A message that fills
        nothing the form asked for is rejected (action_execution_rejected): the rules and stories
        then decide, and the form asks again after them. After such an interruption the form does not
        validate again (`interrupted`, Rasa's LoopInterrupted)."""
        session = turn.session
        activating = session.active_form != form
        if activating:
            self._activate(session, form)
            self._trigger_slots(session, form, turn.intent)
        elif turn.intent == STOP_INTENT and not self._fills_requested(session, form):
            self._deactivate(session)
            await self._say_form_stopped(turn)
            turn.ended = True  # not submitted: the shopper stopped it
            return
        after_message = self.policy.tracker(session.events[:-1]).latest_action == ACTION_LISTEN
        slot_events = self._this_turns_slot_events(session, form) if (after_message or activating) else []
        validator = f"validate_{form}"
        said = len(turn.messages)
        requested_by_validator = None
        if slot_events and not interrupted and self.actions.has(validator) and \
                (validator in self.domain.custom_actions or not self.domain.custom_actions):
            # rasa-sdk validates the slot events at the end of the tracker, as
            # Rasa's form appends its candidates there before validating.
            before = len(session.new_events)
            try:
                await self._run_custom(validator, turn, candidates=slot_events)
            except Exception:
                # Rasa drops a failed action's events: the unvalidated values are not
                # kept, and the form stops so the next message is handled afresh
                # (case B23: "SK-1002" must not be submitted unvalidated).
                self._forget(session, slot_events)
                self._deactivate(session)
                raise
            if session.active_form != form:  # the validation ended the form (ActiveLoop(None))
                return
            requested_by_validator = next((e for e in reversed(session.new_events[before:])
                                           if e.get("event") == "slot" and e.get("name") == "requested_slot"), None)
        requested = session.requested_slot
        if not activating and not interrupted and after_message and requested:
            latest = {e["name"]: e.get("value") for e in self._this_turns_slot_events(session, form)}
            filled = any(value is not None for name, value in latest.items() if name in self.domain.forms[form])
            if not filled and len(turn.messages) == said:
                # not an answer to the form's question: the form rejects the message, and, as in Rasa,
                # the rejection is logged instead of the form's run
                ran = max(i for i, e in enumerate(session.new_events)
                          if e.get("event") == "action" and e.get("name") == form)
                del session.new_events[ran]
                session.record({"event": "action_execution_rejected", "name": form})
                return
        if requested_by_validator is not None:
            # a validation action chose the next slot itself (rasa-sdk's required_slots), or None: done
            next_slot = requested_by_validator.get("value")
        else:
            missing = [s for s in self.domain.forms[form] if session.slots.get(s) is None]
            next_slot = missing[0] if missing else None
        if next_slot is None:
            self._deactivate(session)
            return
        session.requested_slot = next_slot
        if requested != next_slot:
            session.record({"event": "slot", "name": "requested_slot", "value": next_slot})
        await self._ask(form, next_slot, turn)

    def _fills_requested(self, session: Session, form: str) -> bool:
        requested = session.requested_slot
        return bool(requested) and any(e["name"] == requested for e in self._this_turns_slot_events(session, form))

    async def _say_form_stopped(self, turn: "_Turn") -> None:
        if not self._utter("utter_form_stopped", turn):
            turn.say({"text": FORM_STOPPED_TEXT[self._lang(turn.session)]})

    async def _ask(self, form: str, slot: str, turn: "_Turn") -> None:
        """Ask for `slot`: Rasa's `action_ask_<form>_<slot>` / `action_ask_<slot>`
        custom action, else the `utter_ask_...` response, else a plain question."""
        session = turn.session
        for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
            if name in self.domain.custom_actions and self.actions.has(name):
                try:
                    await self._run_custom(name, turn)
                    return
                except ActionFailed as exc:  # the question is still asked, by its response
                    log.error("conversation %s: %s; asking with the response instead", session.sender_id, exc)
                    break
        ask = next((r for r in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}")
                    if r in self.domain.responses), None)
        turn.say({"text": f"Please tell me your {slot.replace('_', ' ')}."} if ask is None
                 else self.domain.render(ask, session.slots, turn.channel)[0])

    def _forget(self, session: Session, slot_events: list[dict]) -> None:
        """Undo this turn's `slot_events`: each slot goes back to its value before the turn."""
        for event in slot_events:
            earlier = next((e.get("value") for e in reversed(session.history)
                            if e.get("event") == "slot" and e.get("name") == event["name"]), None)
            if event["name"] == "requested_slot":
                session.requested_slot = earlier
            else:
                self._set_slot(session, event["name"], earlier)

    # -- running one action -----------------------------------------------

    async def _run(self, action: str, turn: "_Turn", interrupted: bool = False) -> None:
        session = turn.session
        session.latest_action = action
        session.record({"event": "action", "name": action})
        if action in self.domain.forms:
            await self._run_form(action, turn, interrupted)
        elif action in DEFAULT_ACTIONS or action == FORM_STOPPED:
            await self._run_default(action, turn)
        elif action.startswith("utter_"):
            name = self._retrieval_response(action, turn.parse) if action not in self.domain.responses else action
            if not self._utter(name, turn):
                log.warning("response %s is not in the domain", action)
        elif action == ANSWER_FROM_KNOWLEDGE:
            await self._answer_from_knowledge(turn, turn.text)
        elif action in self._handoff_actions() and action not in self.domain.responses:
            try:
                await self._run_custom(action, turn)
            except ActionFailed as exc:  # no action server must keep a shopper from a person
                log.error("conversation %s: %s; handing over without it", session.sender_id, exc)
                self._hand_off(turn)
        else:
            await self._run_custom(action, turn)

    def _utter(self, name: str | None, turn: "_Turn") -> bool:
        """Say the domain's response `name` (its messages, one variant chosen); False when the domain
        has no such response."""
        if name not in self.domain.responses:
            return False
        for message in self.domain.render(name, turn.session.slots, turn.channel):
            turn.say(message)
        return True

    def _retrieval_response(self, action: str, parse: dict) -> str | None:
        """For a retrieval action (`utter_faq`), the response of the message's retrieval intent
        (`utter_faq/returns`): from the parse's response_selector, or its full intent name."""
        base = action[len("utter_"):]
        selected = (((parse.get("response_selector") or {}).get(base) or {}).get("response") or {})
        key = selected.get("intent_response_key") or parse.get("intent", {}).get("full_retrieval_intent_name")
        if key and f"utter_{key}" in self.domain.responses:
            return f"utter_{key}"
        return None

    async def _run_default(self, action: str, turn: "_Turn") -> None:
        """Rasa's default actions (and the form stop that ends a rejected form on "no" or "stop")."""
        session = turn.session
        if action == ACTION_DEACTIVATE_LOOP:
            self._deactivate(session)
        elif action == FORM_STOPPED:
            self._deactivate(session)
            await self._say_form_stopped(turn)
            turn.ended = True
        elif action in (ACTION_RESTART, ACTION_SESSION_START):
            if action == ACTION_RESTART:
                self._utter("utter_restart", turn)
            self._start_afresh(session, carry_over=action == ACTION_SESSION_START)
            turn.ended = True
        elif action in (ACTION_DEFAULT_FALLBACK, ACTION_TWO_STAGE_FALLBACK, ACTION_DEFAULT_ASK_AFFIRMATION,
                        ACTION_DEFAULT_ASK_REPHRASE):
            # Rasa: utter_default, then forget the message (UserUtteranceReverted), so a form or a
            # story goes on as if it had not been sent. The two-stage fallback asks which intent was
            # meant, with the two likeliest as buttons, before that.
            if action != ACTION_DEFAULT_FALLBACK and (options := self._intent_buttons(turn.parse)):
                turn.say({"text": TWO_STAGE_TEXT[self._lang(session)], "buttons": options})
            else:
                response = "utter_ask_rephrase" if action == ACTION_DEFAULT_ASK_REPHRASE else "utter_default"
                if not self._utter(response, turn) and not self._utter("utter_default", turn):
                    await self._answer_from_knowledge(turn, turn.text)
            session.record({"event": "rewind"})
            turn.ended = True
        elif action == ACTION_BACK:
            self._utter("utter_back", turn)
            session.record({"event": "rewind"})
            session.record({"event": "rewind"})
            turn.ended = True
        # action_listen, action_unlikely_intent, action_extract_slots: nothing to do here

    def _intent_buttons(self, parse: dict) -> list[dict]:
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") not in (None, FALLBACK_INTENT)]
        return [{"title": r["name"].replace("_", " "), "payload": f"/{r['name']}"} for r in ranking[:2]]

    def _start_afresh(self, session: Session, carry_over: bool = False) -> None:
        """A restart (or a new session): slots back to their initial values (or carried over), no form,
        no person; the conversation's earlier events no longer count for the policies."""
        kept = dict(session.slots) if carry_over else {}
        self._deactivate(session)
        session.record({"event": "restart" if not carry_over else "session_started"})
        session.slots = self.domain.initial_slots
        for name, value in kept.items():
            if value is not None and name != "requested_slot":
                self._set_slot(session, name, value)
        session.handoff = None

    async def _answer_from_knowledge(self, turn: "_Turn", question: str) -> None:
        """Answer `question` from the store's knowledge, read with the
        shopper's previous message and the sources of the last answer (so
        "is it in stock?" stays on the product just discussed)."""
        history = turn.session.history
        earlier = [e["text"] for e in history if e.get("event") == "user" and e.get("text")]
        last_sources = next((e["data"]["custom"]["sources"] for e in reversed(history)
                             if e.get("event") == "bot" and (e.get("data") or {}).get("custom", {}).get("sources")),
                            [])
        answer = await self.answerer.answer(question, earlier[-1] if earlier else None, turn.on_text,
                                            context_sources=last_sources)
        if answer.abstained and turn.handoff_reason == NEGATIVE_SENTIMENT:
            return  # an angry message with nothing to answer: the handoff that follows says it all
        custom = {"sources": answer.sources}
        message = {"text": answer.text, "custom": custom}
        can_hand_off = self.can_hand_off and not turn.session.handoff
        escalate = (answer.abstained and can_hand_off and self.unanswered > 0
                    and self._unanswered_before(turn.session) + 1 >= self.unanswered)
        if answer.abstained:
            custom["abstained"] = True
            if can_hand_off and not escalate:
                message["buttons"] = OFFER_BUTTONS["zh" if has_chinese(answer.text) else "en"]
            elif escalate and answer.text in (DONT_KNOW, DONT_KNOW_ZH):  # no offer: the handoff follows at once
                message["text"] = NOT_KNOWN_TEXT["zh" if answer.text == DONT_KNOW_ZH else "en"]
        turn.say(message)
        if escalate:  # the shopper is not getting answers: a person takes over
            turn.handoff_reason = NOT_ANSWERED
            for action in self._handoff_actions():
                await self._run(action, turn)

    async def _run_custom(self, action: str, turn: "_Turn", candidates: list[dict] = ()) -> None:
        session = turn.session
        tracker = self._tracker(session, turn.parse)
        tracker["events"] = tracker["events"] + list(candidates)
        call = {
            "next_action": action,
            "sender_id": session.sender_id,
            "tracker": tracker,
            "domain": self.domain.raw,
            "version": RASA_SDK_VERSION,
        }
        result = await self.actions.run(call)
        for response in result.get("responses", []):
            turn.say(self._message_from_response(response, session, turn.channel))
        for event in result.get("events", []):
            self._apply_event(event, turn)

    def _tracker(self, session: Session, parse: dict) -> dict:
        slots = {name: None for name in self.domain.slots}
        slots.update(session.slots)
        slots["requested_slot"] = session.requested_slot
        return {
            "sender_id": session.sender_id,
            "slots": slots,
            "latest_message": parse,
            "events": session.events,
            "paused": bool(session.handoff),
            "followup_action": None,
            "active_loop": {"name": session.active_form} if session.active_form else {},
            "latest_action_name": session.latest_action,
            "latest_event_time": time.time(),
        }

    def _message_from_response(self, response: dict, session: Session, channel: str | None = None) -> dict:
        message = {k: response.get(k) for k in MESSAGE_KEYS}
        if response.get("response"):
            # utter_message(response=..., **kwargs): the kwargs fill the template's {names}, as in Rasa
            extra = {k: v for k, v in response.items() if k not in RESPONSE_KEYS}
            template = self.domain.render(response["response"], session.slots, channel, fill=extra)[0]
            message = {**{k: template.get(k) for k in MESSAGE_KEYS}, **{k: v for k, v in message.items() if v}}
        if response.get("json_message"):
            message["custom"] = response["json_message"]
        return {k: v for k, v in message.items() if v not in (None, [], {})}

    def _apply_event(self, event: dict, turn: "_Turn") -> None:
        """Apply one event a custom action returned (rasa-sdk's event set; Rasa's names)."""
        session = turn.session
        kind = event.get("event")
        if kind == "slot":
            if event.get("name") == "requested_slot":
                session.requested_slot = event.get("value")
            else:
                session.slots[event["name"]] = event.get("value")
        elif kind == "reset_slots":  # AllSlotsReset: back to the initial values
            session.slots = self.domain.initial_slots
        elif kind == "pause":
            session.handoff = self._handoff_state(turn)
            self._deactivate(session)
        elif kind == "resume":
            session.handoff = None
        elif kind in ("active_loop", "form"):
            if event.get("name"):
                self._activate(session, event["name"])
            else:
                self._deactivate(session)
            return
        elif kind == "followup" and event.get("name"):
            turn.queue.appendleft(event["name"])
        elif kind == "restart":
            self._start_afresh(session)
            turn.ended = True
            return
        elif kind == "session_started":
            session.slots = {}
        elif kind == "bot":  # BotUttered: said like any other message (case A11)
            message = {k: v for k, v in (event.get("data") or {}).items()
                       if k in MESSAGE_KEYS and v not in (None, [], {})}
            turn.say({"text": event["text"], **message} if event.get("text") else message)
            return
        elif kind in ("reminder", "cancel_reminder"):
            # shopkeep has no scheduler: a reminder is kept in the conversation's events, not triggered
            log.warning("conversation %s: %s '%s' is recorded but not scheduled (shopkeep runs no scheduler)",
                        session.sender_id, kind, event.get("name"))
        session.record(dict(event))


class _Turn:
    """What one message's handling collects: the queue of actions and the replies."""

    def __init__(self, session: Session, parse: dict, on_text=None):
        self.session = session
        self.on_text = on_text
        self.parse = parse
        self.text = parse.get("text", "")
        self.intent = parse["intent"]["name"]
        # the channel the message came in on, for channel-specific response variations
        self.channel = next((e.get("input_channel") for e in reversed(session.new_events) if e.get("event") == "user"),
                            None)
        self.queue: deque[str] = deque()
        self.messages: list[dict] = []
        self.handoff_reason: str | None = None  # set when the bot itself decides to hand off (HANDOFF_REASONS)
        self.ended = False  # an action ended the turn's actions (a restart, a fallback, a stopped form)

    def say(self, message: dict) -> None:
        self.messages.append(message)
        extra = {k: v for k, v in message.items() if k != "text"}
        self.session.record({"event": "bot", "text": message.get("text"), "data": extra})


def _intent_allowed(mapping: dict, intent: str | None) -> bool:
    """A slot mapping's `intent` list (if any) has `intent`, and its `not_intent` list does not."""
    if mapping.get("intent") and intent not in _as_list(mapping["intent"]):
        return False
    return not (mapping.get("not_intent") and intent in _as_list(mapping["not_intent"]))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]
