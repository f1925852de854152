"""Channel-neutral bot messages, and their renderings.

The dialogue writes Rasa's message format (text, buttons, image, custom,
...; the REST channel sends it as it is). Every other channel gets the
neutral form, built here once per message:

    {"text": str?,                                   plain text, never HTML
     "buttons": [{"title", "payload"}]?,             quick replies
     "cards": [{"sku", "title", "price", "currency", "in_stock", "subtitle", "image"?, "url"?}]?,   product cards
     "image": url?,
     "sources": [{"id", "title", "url"}]?,           under knowledge answers
     "abstained": true?}                             the bot did not know and offered a person

and each adapter renders that in its own native form (`to_socketio` here;
the widget takes it as it is; the messaging webhooks render their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from knowledge.catalog import Product
from knowledge.documents import Passage

NEUTRAL_KEYS = ("text", "buttons", "cards", "image", "sources", "abstained")
SHOWN = ("text", "buttons", "cards", "image")  # a message needs one of these to be shown
SOURCE_PAGE = "/sources/{id}"  # the bot's own page showing a passage, for sources without a store URL


def check_neutral(message) -> dict:
    """`message` when it is a neutral message with something to show; ValueError otherwise."""
    if not isinstance(message, dict):
        raise ValueError(f"a message must be a dict such as {{'text': '...'}}, got {type(message).__name__}")
    unknown = set(message) - set(NEUTRAL_KEYS)
    if unknown:
        raise ValueError(f"unknown message field(s) {sorted(unknown)}; a message has {', '.join(NEUTRAL_KEYS)}")
    if "text" in message and not isinstance(message["text"], str):
        raise ValueError(f"'text' must be a string, got {type(message['text']).__name__}")
    for key in ("buttons", "cards", "sources"):
        if key in message and not (isinstance(message[key], list) and all(isinstance(x, dict) for x in message[key])):
            raise ValueError(f"'{key}' must be a list of objects")
    if not any(message.get(k) for k in SHOWN):
        raise ValueError("a message needs text, buttons, cards or an image")
    return message


def safe_url(url, images: bool = False) -> str | None:
    """`url` when it is http(s) or relative ("/x", "x.png"), else None
    (javascript:, data: and the like never reach a link). `images`: data:image/ too."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https") or (not scheme and not url.startswith("//")):
        return url
    if images and url.lower().startswith("data:image/") and not url.lower().startswith("data:image/svg"):
        return url
    return None


@dataclass(frozen=True)
class SourceIndex:
    """What channels need to show where an answer came from: passages by id, products by SKU."""

    passages: dict[str, Passage]
    products: dict[str, Product]

    @classmethod
    def build(cls, passages: list[Passage], products: list[Product]) -> "SourceIndex":
        return cls({p.id: p for p in passages}, {p.sku: p for p in products})

    def source(self, passage_id: str) -> dict:
        passage = self.passages.get(passage_id)
        title = passage_id if passage is None else _source_title(passage)
        url = safe_url(passage.url) if passage is not None else None
        return {"id": passage_id, "title": title,
                "url": url or (SOURCE_PAGE.format(id=quote(passage_id, safe="")) if passage else None)}

    def card(self, sku: str) -> dict | None:
        product = self.products.get(sku)
        if product is None:
            return None
        card = {"sku": product.sku, "title": product.name, "price": f"{product.price:.2f}",
                "currency": product.currency, "in_stock": product.in_stock > 0,
                "subtitle": "In stock" if product.in_stock > 0 else "Out of stock"}
        if image := safe_url(product.image, images=True):
            card["image"] = image
        if url := safe_url(product.url):
            card["url"] = url
        return card


def _source_title(passage: Passage) -> str:
    if passage.kind == "product" and passage.title.endswith(")") and " (" in passage.title:
        return passage.title.rsplit(" (", 1)[0]  # "Dutch Oven (kitchen)" -> "Dutch Oven"
    return passage.title or passage.id


def neutral(message: dict, index: SourceIndex | None = None) -> dict:
    """The neutral form of one message in the dialogue's (Rasa's) format.

    Knowledge answers' `custom.sources` (passage ids) become source links;
    a product among them becomes a product card. Rasa's `quick_replies`
    and generic-template `elements` are read too, so custom actions written
    for Rasa show their buttons and cards."""
    out: dict = {}
    if isinstance(message.get("text"), str) and message["text"]:
        out["text"] = message["text"]
    buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", b.get("title", "")))}
               for b in (message.get("buttons") or message.get("quick_replies") or [])
               if isinstance(b, dict) and (b.get("title") or b.get("payload"))]
    if buttons:
        out["buttons"] = buttons
    custom = message.get("custom") if isinstance(message.get("custom"), dict) else {}
    cards = [card for card in (_card_from_element(e) for e in message.get("elements") or []) if card]
    ids = [s for s in custom.get("sources") or [] if isinstance(s, str)]
    if index is not None:
        cards += [card for s in ids if s.startswith("product:") and (card := index.card(s.split(":", 1)[1]))]
        sources = [index.source(s) for s in ids]
    else:
        sources = [{"id": s, "title": s, "url": None} for s in ids]
    if cards:
        out["cards"] = cards
    if sources:
        out["sources"] = sources
    image = message.get("image") or _attachment_image(message.get("attachment"))
    if image := safe_url(image, images=True):
        out["image"] = image
    if custom.get("abstained"):
        out["abstained"] = True
    return out


def _attachment_image(attachment) -> str | None:
    if isinstance(attachment, dict) and attachment.get("type") == "image":
        return (attachment.get("payload") or {}).get("src")
    return None


def _card_from_element(element) -> dict | None:
    """A Rasa generic-template element as a product card."""
    if not isinstance(element, dict) or not element.get("title"):
        return None
    card = {"title": str(element["title"]), "subtitle": str(element.get("subtitle") or "")}
    if image := safe_url(element.get("image_url"), images=True):
        card["image"] = image
    url = next((b.get("url") for b in element.get("buttons") or [] if isinstance(b, dict) and b.get("url")), None)
    if url := safe_url(url):
        card["url"] = url
    return card


def to_socketio(message: dict, base_url: str = "") -> list[dict]:
    """Rasa's socket.io `bot_uttered` payloads for one neutral message: each
    has exactly one of text (with quick_replies), an image attachment, or a
    generic template, as rasa-webchat rejects messages with extra keys.
    Source links go into the text as Markdown links, which rasa-webchat renders.
    Relative links and images are made absolute against `base_url` (the bot's
    address), since the client runs on the store's own pages."""
    def absolute(url: str) -> str:
        return urljoin(base_url, url) if base_url else url

    out = []
    text = message.get("text") or ""
    sources = message.get("sources") or []
    if sources:
        links = ", ".join(f"[{s['title']}]({absolute(s['url'])})" if s.get("url") else s["title"] for s in sources)
        text = f"{text}\n\nSource: {links}" if text else f"Source: {links}"
    if text or message.get("buttons"):
        payload = {"text": text}
        if message.get("buttons"):
            payload["quick_replies"] = [{"content_type": "text", "title": b["title"], "payload": b["payload"]}
                                        for b in message["buttons"]]
        out.append(payload)
    if message.get("image"):
        out.append({"attachment": {"type": "image", "payload": {"src": absolute(message["image"])}}})
    if message.get("cards"):
        elements = []
        for card in message["cards"]:
            element = {"title": card["title"],
                       "subtitle": " ".join(x for x in (f"{card.get('price', '')} {card.get('currency', '')}".strip(),
                                                        card.get("subtitle", "")) if x)}
            if card.get("image"):
                element["image_url"] = absolute(card["image"])
            if card.get("url"):
                element["buttons"] = [{"type": "web_url", "url": absolute(card["url"]), "title": "View"}]
            elements.append(element)
        out.append({"attachment": {"type": "template",
                                   "payload": {"template_type": "generic", "elements": elements}}})
    return out
