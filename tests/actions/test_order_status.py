"""The order-status action and its form validation, run the way Rasa runs them."""

from rasa_sdk.executor import ActionExecutor

from actions.order_status import describe_order
from knowledge.orders import get_order_book, normalise_order_id


def call(action: str, slots: dict, events: list | None = None) -> dict:
    return {"next_action": action, "sender_id": "t", "version": "3.21.1",
            "tracker": {"sender_id": "t", "slots": slots, "latest_message": {}, "events": events or [],
                        "paused": False, "active_loop": {}, "latest_action_name": None},
            "domain": {"forms": {"order_status_form": {"required_slots": ["order_id"]}}, "slots": {"order_id": {}}}}


def executor() -> ActionExecutor:
    ex = ActionExecutor()
    ex.register_package("actions")
    return ex


def test_order_ids_are_normalised():
    assert normalise_order_id("sk1002") == "SK-1002"
    assert normalise_order_id(" SK 1002 ") == "SK-1002"
    assert normalise_order_id("#SK-1002") == "SK-1002"
    assert normalise_order_id("1002") is None and normalise_order_id("") is None


def test_every_demo_order_can_be_described():
    book = get_order_book()
    assert len(book) == 20
    for n in range(1001, 1021):
        text = describe_order(book.get(f"SK-{n}"))
        assert text.startswith(f"Order SK-{n} (") and "{" not in text


async def test_validation_canonicalises_a_known_order():
    result = await executor().run(call("validate_order_status_form", {"order_id": "sk1003"},
                                       [{"event": "slot", "name": "order_id", "value": "sk1003"}]))
    assert {"event": "slot", "name": "order_id", "value": "SK-1003"} in [
        {k: e[k] for k in ("event", "name", "value")} for e in result.model_dump()["events"]]


async def test_status_answer_and_slot_reset():
    result = (await executor().run(call("action_order_status", {"order_id": "SK-1005"}))).model_dump()
    assert "cancelled" in result["responses"][0]["text"]
    assert result["events"][0]["name"] == "order_id" and result["events"][0]["value"] is None
