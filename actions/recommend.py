"""Recommendations: "something for my mum under 50", "similar to X", "what
goes with X", and follow-ups ("cheaper?", "in blue?"), answered with product
cards (title, price, picture, link, a one-line reason) and quick replies.

The recommender (`knowledge.recommender`) is built once per process from the
store's catalog and purchase history, off the event loop. The request and
the cards shown are kept in slots so a follow-up changes only what it names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store_data
from actions.replies import language, money
from knowledge.recommend_request import RecommendRequest, RequestError
from knowledge.recommender import Recommendation, Recommender, UnknownProductError
from knowledge.shop import ShopError

ANSWER_FROM_KNOWLEDGE = "action_answer_from_knowledge"  # the bot's built-in grounded answer
REQUEST_SLOT = "recommend_request"  # the last request, for follow-ups
SHOWN_SLOT = "recommend_shown"  # the cards shown for it: [{"sku", "price"}]
HEAD = {"en": {"browse": "Here are some ideas:", "similar": "Similar to {anchor}:",
               "complement": "Goes well with {anchor}:"},
        "zh": {"browse": "为您推荐：", "similar": "与 {anchor} 相似的商品：",
               "complement": "适合与 {anchor} 搭配的商品："}}
NONE_FOUND = {"en": "I couldn't find anything in stock that matches all of that. Try a wider price range or "
                    "another colour, or ask a person from our team.",
              "zh": "没有找到同时满足这些条件的有货商品。可以放宽价格范围或换个颜色，或者转接人工客服。"}
UNKNOWN_PRODUCT = {"en": "I couldn't find \"{reference}\" in our catalog, so I can't compare with it. "
                         "Could you give its name as it appears on our site?",
                   "zh": "在我们的商品目录中没有找到“{reference}”，无法比较。请告诉我网站上显示的商品名称。"}
VIEW = {"en": "View", "zh": "查看"}

_built: dict[str, Recommender] = {}
_building = threading.Lock()


async def recommender() -> Recommender:
    """The process's recommender over the store's catalog and history, built and warmed once."""
    if "recommender" not in _built:
        shop = store_data.shop()
        products, interactions = await shop.products(), await shop.interactions()

        def build() -> Recommender:
            with _building:
                if "recommender" not in _built:
                    made = Recommender(products, interactions)
                    made.warm_up()
                    _built["recommender"] = made
            return _built["recommender"]

        return await asyncio.to_thread(build)
    return _built["recommender"]


def card(item: Recommendation, lang: str) -> dict:
    """A Rasa generic-template element: what every channel renders as a product card."""
    element = {"title": item.title, "subtitle": f"{money(item.price, item.currency)} · {item.reason}",
               "price": money(item.price, item.currency), "reason": item.reason, "sku": item.sku}
    if item.image:
        element["image_url"] = item.image
    if item.url:
        element["buttons"] = [{"type": "web_url", "url": item.url, "title": VIEW[lang]}]
    return element


def previous_request(tracker: Tracker) -> RecommendRequest | None:
    saved = tracker.get_slot(REQUEST_SLOT)
    if not isinstance(saved, dict):
        return None
    try:
        fields = {f.name for f in dataclasses.fields(RecommendRequest)}
        values = {k: (tuple(v) if k == "exclude" else v) for k, v in saved.items() if k in fields}
        return RecommendRequest(**values)
    except (RequestError, TypeError):
        return None


def recommended_last(tracker: Tracker) -> bool:
    """True when the bot's previous turn showed recommendations (so "cheaper?" refers to them)."""
    turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            turns += 1
            if turns > 2:
                return False
        elif event.get("event") == "action" and event.get("name") not in ("action_listen", None) and turns >= 1:
            return event["name"] == ActionRecommend.NAME
    return False


class ActionRecommend(Action):
    NAME = "action_recommend"

    def name(self) -> str:
        return self.NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        lang = language(tracker)
        text = (tracker.latest_message or {}).get("text") or ""
        shown = [Recommendation(sku=s.get("sku", ""), title="", price=float(s.get("price", 0)), currency="",
                                image=None, url=None, reason="", score=0.0, source="")
                 for s in tracker.get_slot(SHOWN_SLOT) or [] if isinstance(s, dict)]
        user = None
        try:
            recs = await recommender()
            if email := store_data.customer_email(tracker):
                customer = await store_data.shop().customer(email)
                user = customer.customer_id if customer else None
            previous = previous_request(tracker) if recommended_last(tracker) else None
            request = recs.parse(text, previous, shown)
            if previous is None and not request.query and request.kind == "browse" and not (
                    request.max_price or request.min_price or request.category):
                # "in blue?", "cheaper?" with no recommendation just shown: a question about
                # what was discussed, for the knowledge answer
                return [FollowupAction(ANSWER_FROM_KNOWLEDGE)]
            if request.language != lang:
                request = dataclasses.replace(request, language=lang)
            result = await asyncio.to_thread(recs.run, request, user, 3)
        except UnknownProductError as exc:
            dispatcher.utter_message(text=UNKNOWN_PRODUCT[lang].format(reference=exc.reference))
            return []
        except ShopError:
            dispatcher.utter_message(text=NONE_FOUND[lang])
            return []
        if not result.items:
            dispatcher.utter_message(text=NONE_FOUND[lang],
                                     buttons=[{"title": q, "payload": q} for q in result.quick_replies])
            return [SlotSet(REQUEST_SLOT, dataclasses.asdict(result.request)), SlotSet(SHOWN_SLOT, [])]
        head = HEAD[lang][result.request.kind].format(anchor=result.anchor.name if result.anchor else "")
        dispatcher.utter_message(text=head, elements=[card(item, lang) for item in result.items],
                                 buttons=[{"title": q, "payload": q} for q in result.quick_replies])
        return [SlotSet(REQUEST_SLOT, dataclasses.asdict(result.request)),
                SlotSet(SHOWN_SLOT, [{"sku": i.sku, "price": i.price} for i in result.items])]
