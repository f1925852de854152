"""Channel-neutral messages and their socket.io rendering."""

import pytest

from bot.channels.messages import SourceIndex, neutral, safe_url, to_socketio
from knowledge.catalog import Product
from knowledge.documents import Passage

INDEX = SourceIndex.build(
    [Passage("returns-policy", "What is your return policy?", "30 days.", "faq.json", "faq"),
     Passage("product:KT-102", "Dutch Oven (kitchen)", "Price: 129 USD.", "p.json", "product", "/p/KT-102")],
    [Product("KT-102", "Dutch Oven", "kitchen", 129.0, "USD", 3, "", url="/p/KT-102",
             image="javascript:alert(1)")])


@pytest.mark.parametrize("url, images, expected", [
    ("https://x.example/a", False, "https://x.example/a"),
    ("/sources/a", False, "/sources/a"),
    ("javascript:alert(1)", False, None),
    (" JavaScript:alert(1)", False, None),
    ("//evil.example/x", False, None),
    ("data:image/png;base64,AAAA", True, "data:image/png;base64,AAAA"),
    ("data:image/png;base64,AAAA", False, None),
    ("data:image/svg+xml,<svg onload=alert(1)>", True, None),
    (None, False, None),
])
def test_only_safe_urls_become_links(url, images, expected):
    assert safe_url(url, images) == expected


def test_a_knowledge_answer_gets_source_links_and_a_product_card():
    message = neutral({"text": "It costs 129 USD.", "custom": {"sources": ["product:KT-102", "returns-policy"]}},
                      INDEX)
    assert message["sources"] == [
        {"id": "product:KT-102", "title": "Dutch Oven", "url": "/p/KT-102"},
        {"id": "returns-policy", "title": "What is your return policy?", "url": "/sources/returns-policy"}]
    card = message["cards"][0]
    assert card == {"sku": "KT-102", "title": "Dutch Oven", "price": "129.00", "currency": "USD",
                    "in_stock": True, "subtitle": "In stock", "url": "/p/KT-102"}  # the unsafe image is dropped


def test_rasa_buttons_quick_replies_images_and_elements_are_read():
    message = neutral({"text": "Pick one", "quick_replies": [{"title": "Yes", "payload": "/affirm"}],
                       "attachment": {"type": "image", "payload": {"src": "https://x.example/i.png"}},
                       "elements": [{"title": "Mug", "subtitle": "12 USD", "image_url": "https://x.example/m.png",
                                     "buttons": [{"type": "web_url", "url": "https://x.example/mug"}]}]})
    assert message == {"text": "Pick one", "buttons": [{"title": "Yes", "payload": "/affirm"}],
                       "image": "https://x.example/i.png",
                       "cards": [{"title": "Mug", "subtitle": "12 USD", "image": "https://x.example/m.png",
                                  "url": "https://x.example/mug"}]}
    assert neutral({"custom": {"handoff": True}}) == {}


def test_socketio_payloads_have_exactly_one_kind_each():
    message = neutral({"text": "Hi", "buttons": [{"title": "Returns", "payload": "returns?"}],
                       "image": "https://x.example/i.png", "custom": {"sources": ["product:KT-102"]}}, INDEX)
    payloads = to_socketio(message)
    assert payloads[0] == {"text": "Hi\n\nSource: [Dutch Oven](/p/KT-102)",
                           "quick_replies": [{"content_type": "text", "title": "Returns", "payload": "returns?"}]}
    assert payloads[1] == {"attachment": {"type": "image", "payload": {"src": "https://x.example/i.png"}}}
    template = payloads[2]["attachment"]["payload"]
    assert template["template_type"] == "generic" and template["elements"][0]["title"] == "Dutch Oven"
    assert all(len(p) == 1 or set(p) == {"text", "quick_replies"} for p in payloads)


@pytest.mark.parametrize("message, fragment", [
    ("just a string", "must be a dict"),
    ({"text": 42}, "'text' must be a string"),
    ({"txt": "hi"}, "unknown message field"),
    ({"buttons": "yes"}, "'buttons' must be a list"),
    ({"sources": []}, "needs text, buttons, cards or an image"),
])
def test_a_message_that_cannot_be_shown_is_refused(message, fragment):
    from bot.channels.messages import check_neutral

    with pytest.raises(ValueError, match=fragment):
        check_neutral(message)
