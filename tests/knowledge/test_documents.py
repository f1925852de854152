"""Reading knowledge files: every format, stable ids, and clear errors for bad files."""

import json

import pytest

from knowledge import documents
from knowledge.documents import KnowledgeError, load_passages, split_text
from knowledge.shop import DEMO_STORE_DIR


def test_markdown_is_split_by_heading_and_keeps_the_heading_path(tmp_path):
    page = tmp_path / "Shipping Policy.md"
    page.write_text("# Shipping\nWe ship worldwide.\n\n## Damaged items\nSend a photo within 7 days.\n"
                    "```\n# not a heading\n```\n\n## Damaged items\nSecond section, same heading.\n")
    passages = load_passages(page)
    assert [p.id for p in passages] == ["shipping-policy#shipping", "shipping-policy#damaged-items",
                                        "shipping-policy#damaged-items-1.2"]
    assert passages[1].title == "Shipping > Damaged items"
    assert "# not a heading" in passages[1].text
    assert load_passages(page) == passages  # ids are stable across reads


def test_broken_html_is_read_and_scripts_and_navigation_are_dropped(tmp_path):
    page = tmp_path / "returns.html"
    page.write_text("<html><head><title>Returns</title><script>var x = 1;</script></head><body><nav>Home</nav>"
                    "<h2>Refunds<p>Refunds take 5 days.<li>Cards: 5 days<li>PayPal: 2 days"
                    "<h2>Exchanges</h2><p>Exchanges are free.")
    passages = load_passages(page)
    assert [p.title for p in passages] == ["Refunds", "Exchanges"]
    assert "Refunds take 5 days." in passages[0].text and "PayPal: 2 days" in passages[0].text
    assert all("var x" not in p.text and "Home" not in p.text for p in passages)


def test_faq_json_jsonl_csv_and_a_catalog(tmp_path):
    (tmp_path / "faq.jsonl").write_text('{"id": "a", "question": "Q1?", "answer": "A1."}\n\n'
                                        '{"id": "b", "title": "T2", "text": "A2."}\n')
    (tmp_path / "faq.csv").write_text("Question,Answer\nDo you ship?,Yes.\n")
    (tmp_path / "wrapped.json").write_text(json.dumps({"questions": [{"question": "Q?", "answer": "A."}]}))
    assert [(p.id, p.kind) for p in load_passages(tmp_path / "faq.jsonl")] == [("a", "faq"), ("b", "page")]
    assert [p.id for p in load_passages(tmp_path / "faq.csv")] == ["faq#do-you-ship"]
    assert load_passages(tmp_path / "wrapped.json")[0].title == "Q?"
    products = load_passages(DEMO_STORE_DIR / "products.json")
    skillet = next(p for p in products if p.id == "product:KT-101")
    assert skillet.kind == "product" and "Price: 39 USD." in skillet.text and "Skillet" in skillet.title


def test_encodings_other_than_utf8_are_recognised(tmp_path):
    page = tmp_path / "notes.txt"
    page.write_bytes("Délais de livraison: trois à cinq jours ouvrés, sauf les jours fériés.".encode("cp1252"))
    assert "Délais" in load_passages(page)[0].text
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text("退货政策：三十天内可退货。", encoding="utf-16")
    assert load_passages(utf16)[0].text == "退货政策：三十天内可退货。"


@pytest.mark.parametrize("name, content, message", [
    ("empty.md", b"  \n", "the file is empty"),
    ("binary.txt", bytes(range(256)) * 4, "not a text file"),
    ("bad.json", b'[{"id": "a",', "invalid JSON"),
    ("bad.jsonl", b'{"id": "a", "question": "q", "answer": "a"}\n{oops\n', "bad.jsonl:2: invalid JSON"),
    ("noanswer.json", b'[{"id": "a", "question": "q"}]', "entry 1: needs a non-empty 'answer'"),
    ("dup.json", b'[{"id": "a", "question": "q", "answer": "x"}, {"id": "a", "question": "r", "answer": "y"}]',
     "duplicate id 'a'"),
    ("noheader.csv", b"just,some\nwords,here\n", "noheader.csv:1: a knowledge CSV needs a header"),
    ("image.png", b"\x89PNG", "unsupported file type .png"),
    ("zero.json", b"[]", "no text found"),
])
def test_bad_files_get_an_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(KnowledgeError, match=message) as info:
        load_passages(path)
    assert name in str(info.value) or name.endswith(".png")


def test_a_huge_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 1000)
    page = tmp_path / "huge.txt"
    page.write_text("word " * 1000)
    with pytest.raises(KnowledgeError, match="huge.txt: .* over the"):
        load_passages(page)


def test_long_sections_are_chunked_at_boundaries_never_losing_text():
    text = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(20))
    chunks = split_text(text, 500)
    assert all(len(c) <= 500 for c in chunks) and len(chunks) > 5
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())
    assert split_text("x" * 1300, 500) == ["x" * 500, "x" * 500, "x" * 300]
