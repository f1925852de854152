"""What people say about a product: its reviews summarised (sentiment,
praised and criticised aspects with a quote each) in the shopper's language.

A product the catalog does not have gets a clear "we don't sell that" rather
than another product's reviews ("the wool scarf" is not the wool beanie).
"""

from __future__ import annotations

import asyncio
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.recommend import card, recommender
from actions.replies import language
from knowledge.recommender import Recommendation, UnknownProductError
from knowledge.shop import ShopError
from lm.aspects import summarize
from lm.sentiment import SentimentError

# Where the product is in "what do people say about the X?", "is the X any good", "X的评价怎么样".
REFERENCE = [re.compile(p, re.IGNORECASE) for p in (
    r"(?:about|of|for|on)\s+(?:the|your|a|an|this|that)?\s*(.+?)\s*(?:any good|rated|like)?\s*[?？!.]*$",
    r"(?:is|are|how is|how are)\s+(?:the|your|a|an|this|that)?\s*(.+?)\s+(?:any good|good|rated|worth it)\b",
    r"(?:对|买过|关于)?(?:这个|这款)?(.+?)(?:的)?(?:评价|评论|口碑|怎么样|的人)",
)]
FILLER = re.compile(r"^(?:the|your|a|an)\s+|\s+(?:reviews?|ratings?|good|any good|worth it|good or bad)$",
                    re.IGNORECASE)
NOT_FOUND = {"en": "We don't sell \"{reference}\", as far as I can find in our catalog, so I have no reviews of "
                   "it. Could you give the product's name as it appears on our site?",
             "zh": "在我们的商品目录中没有找到“{reference}”，因此没有它的评价。请告诉我网站上显示的商品名称。"}
WHICH = {"en": "Which product would you like to hear about?", "zh": "您想了解哪件商品的评价？"}
UNAVAILABLE = {"en": "I can't read the reviews right now. Please try again in a few minutes.",
               "zh": "暂时无法读取评价，请稍后再试。"}


def reference(tracker: Tracker) -> str | None:
    """The shopper's words for the product: the `product` entity, else the
    phrase after "about"/"of" (or before 的评价)."""
    message = tracker.latest_message or {}
    entity = next((e.get("value") for e in message.get("entities") or [] if e.get("entity") == "product"), None)
    if entity:
        return str(entity)
    text = (message.get("text") or "").strip()
    for pattern in REFERENCE:
        if m := pattern.search(text):
            ref = FILLER.sub("", m.group(1).strip(" ?？")).strip()
            if ref and ref.lower() not in ("it", "them", "this", "that"):
                return ref
    return None


def first_sentence(text: str) -> str:
    """"3 reviews, mostly positive (3.3/5)." from a summary (a decimal point is not a sentence end)."""
    return re.split(r"(?<=[.。])(?=\s|$)|(?<=。)", text.strip(), maxsplit=1)[0]


class ActionReviewSummary(Action):
    def name(self) -> str:
        return "action_review_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        lang = language(tracker)
        ref = reference(tracker)
        if not ref:
            dispatcher.utter_message(text=WHICH[lang])
            return []
        try:
            recs = await recommender()
            product = await asyncio.to_thread(recs.resolve, ref, lang, True)
            summary = await asyncio.to_thread(summarize, product.reviews, lang)
        except UnknownProductError:
            dispatcher.utter_message(text=NOT_FOUND[lang].format(reference=ref))
            return []
        except (ShopError, SentimentError):
            dispatcher.utter_message(text=UNAVAILABLE[lang])
            return []
        head = f"{product.name}：" if lang == "zh" else f"{product.name}: "
        item = Recommendation(sku=product.sku, title=product.name, price=product.price, currency=product.currency,
                              image=product.image, url=product.url, reason=first_sentence(summary),
                              score=0.0, source="reviews")
        dispatcher.utter_message(text=head + summary, elements=[card(item, lang)])
        return []
