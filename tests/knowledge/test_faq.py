"""Loading FAQ files, and the errors bad files get."""

import json

import pytest

from knowledge.faq import KnowledgeError, load_faq
from knowledge.orders import DEMO_STORE_DIR


def test_demo_faq_covers_the_main_topics():
    entries = load_faq(DEMO_STORE_DIR / "faq.json")
    assert len(entries) >= 40
    assert {"shipping", "returns", "payment", "accounts", "orders"} <= {e.category for e in entries}


def test_jsonl_is_read(tmp_path):
    path = tmp_path / "kb.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "answer": "A."}\n\n{"id": "b", "question": "R?", "answer": "B."}\n')
    assert [e.id for e in load_faq(path)] == ["a", "b"]


@pytest.mark.parametrize("content, fragment", [
    ("[]", "non-empty list"),
    ('{"id": "a"}', "non-empty list"),
    ('[{"id": "a", "question": "q"}]', "entry 1 needs"),
    ('[{"id": "a", "question": "q", "answer": "x"}, {"id": "a", "question": "r", "answer": "y"}]', "duplicate id 'a'"),
    ('[{"id": "a", "question": "q", "answer": "x"},\n oops]', "faq.json:2: invalid JSON"),
])
def test_bad_files_get_clear_errors(tmp_path, content, fragment):
    path = tmp_path / "faq.json"
    path.write_text(content)
    with pytest.raises(KnowledgeError, match=fragment.replace("(", r"\(")):
        load_faq(path)


def test_wrong_encoding_and_missing_file(tmp_path):
    path = tmp_path / "faq.json"
    path.write_bytes(json.dumps([{"id": "a", "question": "q", "answer": "caf\u00e9"}]).encode("utf-16"))
    with pytest.raises(KnowledgeError, match="not UTF-8"):
        load_faq(path)
    with pytest.raises(KnowledgeError, match="file not found"):
        load_faq(tmp_path / "none.json")
