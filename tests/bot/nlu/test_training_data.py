"""Reading Rasa NLU YAML, and the errors store owners get for bad files."""

import pytest

from bot.config import DEMO_CONFIG
from bot.nlu.training_data import TrainingDataError, load_nlu_yaml, load_training_data, parse_annotated


def test_entity_annotations_are_stripped_and_located():
    text, entities = parse_annotated('check [SK-1002](order_id) in [red]{"entity": "colour", "value": "red"} please')
    assert text == "check SK-1002 in red please"
    assert entities[0] == {"entity": "order_id", "value": "SK-1002", "start": 6, "end": 13}
    assert text[entities[1]["start"]:entities[1]["end"]] == "red" and entities[1]["entity"] == "colour"


def test_demo_training_data_loads():
    data = load_nlu_yaml(DEMO_CONFIG.parent / "nlu.yml")
    assert {"greet", "order_status", "ask_question", "human_handoff"} <= set(data.intents)
    assert data.regexes["order_id"]


def write(tmp_path, text):
    path = tmp_path / "nlu.yml"
    path.write_text(text)
    return path


def test_an_example_under_two_intents_names_both_lines_when_strict(tmp_path):
    path = write(tmp_path, 'nlu:\n- intent: a\n  examples: |\n    - hello\n    - hey\n'
                           '- intent: b\n  examples: |\n    - bye\n    - Hello\n')
    with pytest.raises(TrainingDataError, match=r"nlu.yml:9: .*'b' and also under 'a' \(line 4\)"):
        load_nlu_yaml(path, strict=True)


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - hi\n  - : [\n")
    with pytest.raises(TrainingDataError, match=r"nlu.yml:\d+: invalid YAML"):
        load_nlu_yaml(path)


def test_example_lines_must_start_with_a_dash(tmp_path):
    path = write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - hi\n    oops\n"
                           "- intent: b\n  examples: |\n    - x\n")
    with pytest.raises(TrainingDataError, match=r"nlu.yml:5: each example must start with '- '"):
        load_nlu_yaml(path)


def test_one_intent_is_not_enough_but_one_example_is(tmp_path):
    with pytest.raises(TrainingDataError, match="at least two intents"):
        load_nlu_yaml(write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - hi\n"))
    data = load_nlu_yaml(write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - hi\n"
                                         "- intent: b\n  examples: |\n    - bye\n"))
    assert data.intents == ["a", "b"]


def test_missing_file_and_bad_regex(tmp_path):
    with pytest.raises(TrainingDataError, match="file not found"):
        load_nlu_yaml(tmp_path / "none.yml")
    with pytest.raises(TrainingDataError, match="regex 'r'"):
        load_nlu_yaml(write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - hi\n- intent: b\n  examples: |\n"
                                      "    - yo\n- regex: r\n  examples: |\n    - ([a-\n"))


def test_csv_with_banking77_header_and_out_of_scope_rows(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('text,category\n"where is my card, please?",card_arrival\nhi,greet\nplay music,oos\n'
                    "what's the weather,nlu_fallback\n\n")
    data = load_training_data(path)
    assert [(e.text, e.intent) for e in data.examples] == [("where is my card, please?", "card_arrival"),
                                                           ("hi", "greet")]
    assert [e.text for e in data.out_of_scope] == ["play music", "what's the weather"]


def test_csv_errors_name_the_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,intent\nhi,greet\nbye\n")
    with pytest.raises(TrainingDataError, match=r"data.csv:3: expected text,intent"):
        load_training_data(path)
    path.write_text("text,intent\nhi,greet\nHi,bye\nhello,greet\nbye,bye\n")
    with pytest.raises(TrainingDataError, match=r"data.csv:3: .*'bye' and also under 'greet' \(line 2\)"):
        load_training_data(path, strict=True)
    with pytest.raises(TrainingDataError, match="must be .yml, .yaml or .csv"):
        load_training_data(tmp_path / "data.txt")


def test_synonyms_lookups_and_annotated_values(tmp_path):
    path = write(tmp_path, "nlu:\n- intent: buy\n  examples: |\n"
                           '    - I want [crimson]{"entity": "colour", "value": "red"}\n'
                           "    - buy it\n- intent: bye\n  examples: |\n    - bye\n"
                           "- synonym: navy\n  examples: |\n    - dark blue\n"
                           "- lookup: colour\n  examples: |\n    - red\n    - navy\n")
    data = load_nlu_yaml(path)
    assert data.synonyms == {"crimson": "red", "dark blue": "navy"}
    assert data.lookups == {"colour": ["red", "navy"]}


def test_unknown_sections_are_refused(tmp_path):
    with pytest.raises(TrainingDataError, match=r"nlu.yml:2: expected 'intent', 'regex', 'synonym' or 'lookup'"):
        load_nlu_yaml(write(tmp_path, "nlu:\n- intnet: a\n  examples: |\n    - hi\n"))
