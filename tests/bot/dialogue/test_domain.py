"""Response variations as Rasa 3 chooses them."""

from bot.dialogue.domain import Domain

DOMAIN = Domain({"responses": {"utter_greet": [
    {"text": "Hi!"},
    {"text": "Welcome back, order {order_id}?", "condition": [{"type": "slot", "name": "returning", "value": True}]},
    {"text": "Hi from Slack!", "channel": "slack"},
    {"text": "你好！", "condition": [{"type": "slot", "name": "language", "value": "zh"}]},
]}})


def test_the_plain_variant_when_no_condition_or_channel_matches():
    for _ in range(20):
        assert DOMAIN.render("utter_greet", {}, "rest") == [{"text": "Hi!"}]


def test_a_matching_condition_or_channel_wins_and_its_keys_never_leak():
    assert DOMAIN.render("utter_greet", {"language": "zh"}, "rest") == [{"text": "你好！"}]
    assert DOMAIN.render("utter_greet", {"returning": True, "order_id": "SK-1"}, "rest") == [
        {"text": "Welcome back, order SK-1?"}]
    assert DOMAIN.render("utter_greet", {}, "slack") == [{"text": "Hi from Slack!"}]


def test_yaml_is_read_as_rasa_reads_it_yes_and_no_stay_text(tmp_path):
    """YAML 1.2, as Rasa (ruamel.yaml): a button titled Yes stays "Yes", not True (helpdesk-assistant)."""
    path = tmp_path / "domain.yml"
    path.write_text("responses:\n  utter_ask_confirm:\n  - text: Sure?\n    buttons:\n    - title: Yes\n"
                    "      payload: /affirm\n    - title: off\n      payload: /deny\n")
    buttons = Domain.load(path).render("utter_ask_confirm", {})[0]["buttons"]
    assert [b["title"] for b in buttons] == ["Yes", "off"]
