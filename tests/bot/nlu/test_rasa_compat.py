"""Rasa 3.x projects run unchanged: payloads, data folders, duplicates, roles,
CJK text around regex entities, out_of_scope as an intent, and config.yml."""

import json
import logging
from pathlib import Path

import pytest

from bot.nlu.classifier import IntentPrediction
from bot.nlu.entities import EntityExtractor, role_evidence
from bot.nlu.interpreter import Interpreter
from bot.nlu.model_store import fingerprint
from bot.nlu.payloads import parse_payload
from bot.nlu.rasa_config import RasaConfigError, read_rasa_config
from bot.nlu.training_data import TrainingDataError, load_training_data, parse_annotated

RASA_PROJECTS = Path(__file__).resolve().parents[4] / "shared" / "rasa_projects"


# -- payloads ---------------------------------------------------------------

def test_a_payload_is_its_intent_with_json_entities():
    text = '/inform{"priority":"high"}'
    parse = parse_payload(text)
    assert parse["intent"] == {"name": "inform", "confidence": 1.0}
    assert parse["intent_ranking"] == [{"name": "inform", "confidence": 1.0}]
    assert parse["entities"] == [{"entity": "priority", "value": "high", "start": 7, "end": len(text),
                                  "extractor": "payload"}]
    assert text[7:] == '{"priority":"high"}'  # the span is the JSON object's


@pytest.mark.parametrize("text, intent", [("/greet", "greet"), ("/restart", "restart"), ("  /affirm \n", "affirm"),
                                          ("/faq/payment_methods", "faq/payment_methods"),
                                          ("/chitchat.ask-name", "chitchat.ask-name")])
def test_plain_payloads(text, intent):
    parse = parse_payload(text)
    assert parse["intent"]["name"] == intent and parse["entities"] == [] and parse["text"] == text


def test_confidence_lists_and_several_entities():
    parse = parse_payload('/trigger_handoff@0.8{"handoff_to": "financial_demo", "tags": ["a", "b"]}')
    assert parse["intent"] == {"name": "trigger_handoff", "confidence": 0.8}
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == [
        ("handoff_to", "financial_demo"), ("tags", "a"), ("tags", "b")]
    assert parse_payload("/greet@7")["intent"]["confidence"] == 1.0


@pytest.mark.parametrize("text", ['/inform{"priority": high}', "/inform{oops", "/inform{}x", '/inform{"a": 1}{"b": 2}',
                                  "/inform{ }"])
def test_malformed_json_after_an_intent_keeps_the_intent_without_entities(text, caplog):
    with caplog.at_level(logging.WARNING):
        parse = parse_payload(text)
    assert parse["intent"]["name"] == "inform" and parse["entities"] == []
    assert "continuing without them" in caplog.text or text == "/inform{ }"


@pytest.mark.parametrize("text", ["/ what?", "/returns page", "what is /greet", "/", "//", "/greet please",
                                  "/greet@high", "", "http://example.com/returns", '/inform["high"]'])
def test_text_that_is_not_a_payload(text):
    assert parse_payload(text) is None


class RecordingClassifier:
    intents = ["greet", "inform"]

    def __init__(self):
        self.seen = []

    def predict_batch(self, texts):
        self.seen += texts
        return [IntentPrediction("greet", 0.9, [("greet", 0.9), ("inform", 0.1)]) for _ in texts]


def test_payloads_never_reach_the_classifier():
    classifier = RecordingClassifier()
    interpreter = Interpreter(classifier, EntityExtractor())
    parses = interpreter.parse_batch(["/inform{\"priority\":\"high\"}", "hello there", "/ what?", "/greet"])
    assert classifier.seen == ["hello there", "/ what?"]
    assert [p["intent"]["name"] for p in parses] == ["inform", "greet", "greet", "greet"]
    assert parses[0]["entities"][0]["value"] == "high"
    assert [p["text"] for p in parses] == ["/inform{\"priority\":\"high\"}", "hello there", "/ what?", "/greet"]
    classifier.seen.clear()
    assert interpreter.parse("/restart")["intent"] == {"name": "restart", "confidence": 1.0}
    assert classifier.seen == []


# -- training data: duplicates, several files, roles, out_of_scope ------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


NLU_A = "nlu:\n- intent: greet\n  examples: |\n    - hello\n    - hi\n    - yes thanks\n"
NLU_B = ("version: '3.1'\nnlu:\n- intent: affirm\n  examples: |\n    - yes\n    - Yes thanks\n"
         "- intent: thank\n  examples: |\n    - thanks\n    - thank you\n")


def test_an_example_under_two_intents_is_left_out_of_both_with_a_warning(tmp_path, caplog):
    path = write(tmp_path / "nlu.yml", "nlu:\n- intent: affirm\n  examples: |\n    - yes\n    - yes thanks\n"
                                       "- intent: thank\n  examples: |\n    - thanks\n    - Yes thanks\n")
    with caplog.at_level(logging.WARNING):
        data = load_training_data(path)
    assert [e.text for e in data.examples] == ["yes", "thanks"]
    assert len(data.warnings) == 1
    assert "nlu.yml:9: example 'Yes thanks' is under intent 'thank' and also under 'affirm' (line 5)" \
        in data.warnings[0]
    assert data.warnings[0] in caplog.text
    with pytest.raises(TrainingDataError, match=r"nlu.yml:9: .*keep it under one"):
        load_training_data(path, strict=True)


def test_the_same_example_twice_under_one_intent_is_kept_once(tmp_path):
    data = load_training_data(write(tmp_path / "nlu.yml", "nlu:\n- intent: a\n  examples: |\n    - hi\n    - Hi\n"
                                                          "    - hey\n- intent: b\n  examples: |\n    - bye\n"))
    assert [e.text for e in data.examples] == ["hi", "hey", "bye"] and data.warnings == []


def test_a_folder_is_read_recursively_and_only_nlu_files_count(tmp_path):
    data_dir = tmp_path / "data"
    write(data_dir / "nlu" / "greet.yml", NLU_A)
    write(data_dir / "nlu" / "more" / "affirm.yaml", NLU_B)
    write(data_dir / "rules.yml", "version: '3.1'\nrules:\n- rule: r\n  steps:\n  - intent: greet\n")
    write(data_dir / "stories.yml", "stories: []\n")
    write(data_dir / "notes.txt", "not data")
    write(data_dir / ".hidden" / "x.yml", "nlu: 3\n")
    data = load_training_data(data_dir)
    assert data.files == [data_dir / "nlu" / "greet.yml", data_dir / "nlu" / "more" / "affirm.yaml"]
    assert data.intents == ["affirm", "greet", "thank"]
    assert "yes thanks" not in {e.text.casefold() for e in data.examples}
    assert "greet.yml:6" in data.warnings[0] and "affirm.yaml" in data.warnings[0]  # names both files
    assert data.source == str(data_dir)


def test_a_list_of_files_and_a_file_without_nlu(tmp_path):
    a, b = write(tmp_path / "a.yml", NLU_A), write(tmp_path / "b.yml", NLU_B)
    rules = write(tmp_path / "rules.yml", "rules: []\n")
    assert load_training_data([a, b, rules]).intents == ["affirm", "greet", "thank"]
    with pytest.raises(TrainingDataError, match="expected an 'nlu:' list"):
        load_training_data(rules)  # one file must be training data, as before
    with pytest.raises(TrainingDataError, match="no NLU training data"):
        load_training_data([rules])
    with pytest.raises(TrainingDataError, match="keep it under one"):
        load_training_data([a, b], strict=True)


def test_the_fingerprint_changes_when_any_file_changes(tmp_path):
    a, b = write(tmp_path / "d" / "a.yml", NLU_A), write(tmp_path / "d" / "b.yml", NLU_B)
    files = load_training_data(tmp_path / "d").files
    first = fingerprint(files, {"lang": "en"})
    assert fingerprint(tmp_path / "d", {"lang": "en"}) == first
    b.write_text(NLU_B + "    - cheers\n")
    assert fingerprint(files, {"lang": "en"}) != first
    # one file: the same fingerprint as before lists were accepted, so existing models stay current
    import hashlib

    old = hashlib.sha256(json.dumps({"format": 4, "lang": "en"}, sort_keys=True).encode())
    old.update(a.read_bytes())
    assert fingerprint(a, {"lang": "en"}) == fingerprint([a], {"lang": "en"}) == old.hexdigest()


def test_real_rasa_projects_load_from_their_data_folders():
    if not RASA_PROJECTS.exists():
        pytest.skip("the shared Rasa projects are not here")
    helpdesk = load_training_data(RASA_PROJECTS / "helpdesk-assistant" / "data")
    assert [f.name for f in helpdesk.files] == ["nlu.yml"]
    assert {"out_of_scope", "password_reset", "inform"} <= set(helpdesk.intents)
    assert any("'yes thanks'" in w for w in helpdesk.warnings)
    retail = load_training_data(RASA_PROJECTS / "retail-demo" / "data")
    assert {"out_of_scope", "faq/payment_methods", "chitchat/thanks"} <= set(retail.intents)


def test_out_of_scope_is_an_ordinary_intent_but_oos_and_nlu_fallback_are_not(tmp_path):
    data = load_training_data(write(tmp_path / "nlu.yml",
                                    "nlu:\n- intent: greet\n  examples: |\n    - hi\n"
                                    "- intent: out_of_scope\n  examples: |\n    - I want a pizza\n"
                                    "- intent: oos\n  examples: |\n    - play music\n"
                                    "- intent: nlu_fallback\n  examples: |\n    - what's the weather\n"))
    assert data.intents == ["greet", "out_of_scope"]
    assert [e.text for e in data.out_of_scope] == ["play music", "what's the weather"]


def test_roles_groups_and_values_are_kept_on_training_examples():
    text, entities = parse_annotated('fly from [Berlin]{"entity": "city", "role": "departure"} to '
                                     '[NYC]{"entity": "city", "role": "destination", "value": "New York", '
                                     '"group": "1"}')
    assert text == "fly from Berlin to NYC"
    assert entities == ({"entity": "city", "value": "Berlin", "start": 9, "end": 15, "role": "departure"},
                        {"entity": "city", "value": "New York", "start": 19, "end": 22, "role": "destination",
                         "group": "1"})


# -- entities: roles at run time, CJK text ------------------------------------

class _Example:
    def __init__(self, annotated):
        self.text, self.entities = parse_annotated(annotated)


ROLE_EXAMPLES = [_Example(a) for a in [
    'a ticket from [Berlin]{"entity": "city", "role": "departure"} please',
    'I fly to [Paris]{"entity": "city", "role": "destination"}',
    'going to [Rome]{"entity": "city", "role": "destination"}',
    'arriving in [Oslo]{"entity": "city", "role": "destination"}',
    'I want [red]{"entity": "colour", "role": "outside"}',
]]
ROLE_EXTRACTOR = EntityExtractor(lookups={"city": ["Berlin", "Paris", "Rome", "Oslo", "Madrid"],
                                          "colour": ["red", "blue"]},
                                 roles=role_evidence(ROLE_EXAMPLES))


def roles(text):
    return [(e["value"], e.get("role")) for e in ROLE_EXTRACTOR.extract(text)]


def test_roles_from_the_words_before_the_entity():
    assert roles("from Paris to Berlin") == [("Paris", "departure"), ("Berlin", "destination")]
    assert roles("a flight from Madrid") == [("Madrid", "departure")]  # never annotated: context alone


def test_roles_from_the_value_when_the_context_says_nothing():
    assert roles("Oslo") == [("Oslo", "destination")]
    assert roles("Berlin, Madrid") == [("Berlin", "departure"), ("Madrid", None)]
    assert roles("blue and red") == [("blue", None), ("red", "outside")]


def test_no_roles_without_evidence():
    plain = EntityExtractor(lookups={"city": ["Berlin"]})
    assert "role" not in plain.extract("from Berlin")[0]


SK_REGEX = EntityExtractor(regexes={"order_id": [r"\b[Ss][Kk]-?\d{4}\b"], "code": [r"订单号[A-Z]{3}"]},
                           lookups={"size": ["XL", "queen"], "colour": ["红色"]}, shop_entities=True)


@pytest.mark.parametrize("text, value, span", [("我要查订单SK-1002", "SK-1002", (5, 12)),
                                               ("订单号是SK1003", "SK1003", (4, 10)),
                                               ("SK-1002到哪了", "SK-1002", (0, 7)),
                                               ("我的订单 SK-1002 到哪了", "SK-1002", (5, 12))])
def test_a_word_boundary_regex_finds_ids_inside_chinese_text(text, value, span):
    [entity] = [e for e in SK_REGEX.extract(text) if e["entity"] == "order_id"]
    assert entity["value"] == value and (entity["start"], entity["end"]) == span
    assert text[entity["start"]:entity["end"]] == value


def test_cjk_lookups_emails_and_regexes_written_for_chinese():
    found = SK_REGEX.extract("我要XL码的红色")
    assert [(e["entity"], e["value"]) for e in found] == [("size", "XL"), ("colour", "红色")]
    [email] = SK_REGEX.extract("我的邮箱是a.b@example.com，谢谢")
    assert email["value"] == "a.b@example.com" and email["start"] == 5
    assert [e["value"] for e in SK_REGEX.extract("查订单号ABC")] == ["订单号ABC"]


def test_english_is_unchanged():
    assert [e["value"] for e in SK_REGEX.extract("order SK-1002, XSK-10022 and sk1003x")] == ["SK-1002"]
    assert [e["value"] for e in SK_REGEX.extract("two queens in XL, mail a.b@example.com")] == [
        2, "queen", "XL", "a.b@example.com"]


# -- config.yml ---------------------------------------------------------------

HELPDESK_CONFIG = """language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: "char_wb"
  - name: DIETClassifier
    epochs: 150
  - name: FallbackClassifier
    threshold: 0.7
  - name: EntitySynonymMapper
policies:
  - name: AugmentedMemoizationPolicy
    max_history: 4
  - name: TEDPolicy
    max_history: 4
  - name: RulePolicy
    core_fallback_threshold: 0.4
    core_fallback_action_name: "action_default_fallback"
    enable_fallback_prediction: True
"""


def test_a_rasa_config_is_read(tmp_path):
    settings = read_rasa_config(write(tmp_path / "config.yml", HELPDESK_CONFIG))
    assert (settings.language, settings.fallback_threshold) == ("en", 0.7)
    assert (settings.memoization.policy, settings.memoization.max_history) == ("AugmentedMemoizationPolicy", 4)
    rule = settings.rule_policy
    assert (rule.core_fallback_threshold, rule.core_fallback_action_name, rule.enable_fallback_prediction,
            rule.restrict_rules) == (0.4, "action_default_fallback", True, True)
    assert settings.ignored_components == ("WhitespaceTokenizer", "CountVectorsFeaturizer", "DIETClassifier")
    assert settings.ignored_policies == ("TEDPolicy",)
    assert settings.notice.startswith("config.yml: using language en and the fallback threshold 0.7; ignoring "
                                      "pipeline components WhitespaceTokenizer, CountVectorsFeaturizer and "
                                      "DIETClassifier (shopkeep has its own intent model)")
    assert "AugmentedMemoizationPolicy max_history 4" in settings.notice and "TEDPolicy (" in settings.notice


def test_the_real_projects_configs():
    if not RASA_PROJECTS.exists():
        pytest.skip("the shared Rasa projects are not here")
    retail = read_rasa_config(RASA_PROJECTS / "retail-demo" / "config.yml")
    assert retail.fallback_threshold == 0.3 and retail.memoization.policy == "MemoizationPolicy"
    assert retail.memoization.max_history is None  # Rasa 3's default: the whole conversation
    assert read_rasa_config(RASA_PROJECTS / "helpdesk-assistant" / "config.yml").memoization.max_history == 4


def test_missing_config_and_config_without_pipeline_get_rasa_defaults(tmp_path):
    missing = read_rasa_config(tmp_path / "config.yml")
    assert not missing.found and missing.language == "auto" and missing.fallback_threshold is None
    assert missing.memoization.policy == "MemoizationPolicy" and missing.rule_policy.core_fallback_threshold == 0.3
    assert "not found" in missing.notice
    bare = read_rasa_config(write(tmp_path / "config.yml", "recipe: default.v1\nlanguage: zh\n"))
    assert bare.found and bare.language == "zh" and bare.memoization.max_history is None
    assert bare.rule_policy.core_fallback_action_name == "action_default_fallback"
    other = read_rasa_config(write(tmp_path / "config.yml", "language: de\npolicies:\n  - name: RulePolicy\n"
                                                            "    restrict_rules: false\n"))
    assert other.language == "auto" and other.memoization is None and other.rule_policy.restrict_rules is False
    assert read_rasa_config(write(tmp_path / "config.yml", "pipeline:\n  - name: FallbackClassifier\n")
                            ).fallback_threshold == 0.3


@pytest.mark.parametrize("text, message", [
    ("language: en\npipeline: [\n", "config.yml:3: invalid YAML"),
    ("- a list\n", "expected a mapping"),
    ("pipeline:\n  - WhitespaceTokenizer\n", "'pipeline' item 1 must be a mapping with a 'name'"),
    ("pipeline:\n  - name: FallbackClassifier\n    threshold: high\n", "threshold must be a number from 0 to 1"),
    ("policies:\n  - name: MemoizationPolicy\n    max_history: 0\n", "max_history must be a whole number"),
    ("policies:\n  - name: RulePolicy\n    restrict_rules: maybe\n", "restrict_rules must be true or false"),
])
def test_bad_configs_name_the_file(tmp_path, text, message):
    with pytest.raises(RasaConfigError, match=message) as error:
        read_rasa_config(write(tmp_path / "config.yml", text))
    assert str(tmp_path / "config.yml") in str(error.value)


# -- end to end, with the real encoder ----------------------------------------

@pytest.mark.integration
def test_a_model_trained_from_a_data_folder(tmp_path):
    from bot.nlu.model_store import complete_models
    from bot.nlu.training import train_model

    data_dir = tmp_path / "data"
    write(data_dir / "nlu.yml", NLU_A + "- intent: book\n  examples: |\n"
          '    - a ticket from [Berlin]{"entity": "city", "role": "departure"}\n'
          '    - I fly to [Paris]{"entity": "city", "role": "destination"}\n'
          "- lookup: city\n  examples: |\n    - Berlin\n    - Paris\n    - Madrid\n")
    write(data_dir / "more" / "nlu.yml", NLU_B)
    write(data_dir / "rules.yml", "rules: []\n")
    first = train_model(data_dir, tmp_path / "models", lang="en", progress=False)
    assert train_model(data_dir, tmp_path / "models", lang="en", progress=False) == first
    meta = json.loads((first / "meta.json").read_text())
    assert len(meta["training_files"]) == 2 and meta["settings"]["entity_roles"] is True
    interpreter = Interpreter.load(first)
    assert [(e["value"], e.get("role")) for e in interpreter.parse("from Madrid to Berlin")["entities"]] == [
        ("Madrid", "departure"), ("Berlin", "destination")]
    assert interpreter.parse('/book{"city": "Paris"}')["entities"][0]["value"] == "Paris"
    with pytest.raises(TrainingDataError, match="keep it under one"):
        train_model(data_dir, tmp_path / "models", lang="en", progress=False, strict=True)
    write(data_dir / "more" / "nlu.yml", NLU_B + "    - cheers\n")
    second = train_model(data_dir, tmp_path / "models", lang="en", progress=False)
    assert second != first and complete_models(tmp_path / "models") == [first, second]


def test_regex_entities_ignore_case_as_rasa_does():
    """Rasa's RegexEntityExtractor is case-insensitive by default: "sk-1005" is an order id for SK-\\d{4}."""
    from bot.nlu.entities import EntityExtractor

    extractor = EntityExtractor(regexes={"order_id": [r"SK-\d{4}"]}, shop_entities=False)
    assert [e["value"] for e in extractor.extract("where is my order sk-1005")] == ["sk-1005"]


def test_duckling_numbers_only_for_projects_that_ask_for_them():
    from bot.nlu.entities import EntityExtractor

    assert [e["value"] for e in EntityExtractor(dimensions=("number",)).extract("size 9 or nine, not SK-1009")
            if e["entity"] == "number"] == [9, 9]
    assert not [e for e in EntityExtractor().extract("size 9") if e["entity"] == "number"]
