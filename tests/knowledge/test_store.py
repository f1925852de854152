"""The knowledge store: incremental ingestion, deletion, persistence, and no damage from bad files."""

import pytest

from knowledge.documents import KnowledgeError
from knowledge.store import KnowledgeStore


def faq(path, *rows):
    path.write_text("\n".join(f'{{"id": "{i}", "question": "{q}", "answer": "{a}"}}' for i, q, a in rows))
    return path


def test_ingest_refresh_and_remove_a_folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    faq(docs / "faq.jsonl", ("ship", "Do you ship?", "Yes."), ("pay", "Payment?", "Cards."))
    (docs / "about.md").write_text("# About us\nA family shop since 1999.\n")
    (docs / ".hidden.md").write_text("# Secret\nnot knowledge\n")
    store = KnowledgeStore(tmp_path / "store")
    report = store.ingest([docs])
    assert len(report.added) == 2 and report.passages == 3

    again = KnowledgeStore(tmp_path / "store")  # persisted
    assert sorted(p.id for p in again.passages) == ["about#about-us", "pay", "ship"]
    report = again.ingest([docs])
    assert len(report.unchanged) == 2 and not report.added and not report.updated

    faq(docs / "faq.jsonl", ("ship", "Do you ship?", "Yes, worldwide."))
    (docs / "about.md").unlink()
    report = again.ingest([docs])
    assert len(report.updated) == 1 and len(report.removed) == 1 and report.passages == 1
    assert again.passages[0].text == "Yes, worldwide."

    report = KnowledgeStore(tmp_path / "store").remove([docs / "faq.jsonl"])
    assert report.passages == 0 and KnowledgeStore(tmp_path / "store").files == []


def test_a_bad_file_or_a_clashing_id_leaves_the_store_as_it_was(tmp_path):
    store = KnowledgeStore(tmp_path / "store")
    store.ingest([faq(tmp_path / "a.jsonl", ("ship", "Do you ship?", "Yes."))])
    clash = faq(tmp_path / "b.jsonl", ("ship", "Shipping?", "No."))
    with pytest.raises(KnowledgeError, match="id 'ship' is already used by .*a.jsonl"):
        store.ingest([clash])
    (tmp_path / "c.json").write_text("[{broken")
    with pytest.raises(KnowledgeError, match="c.json"):
        store.ingest([tmp_path / "c.json"])
    for kept in (store, KnowledgeStore(tmp_path / "store")):
        assert [(p.id, p.text) for p in kept.passages] == [("ship", "Yes.")]


def test_paths_that_hold_no_knowledge_are_errors(tmp_path):
    store = KnowledgeStore(tmp_path / "store")
    with pytest.raises(KnowledgeError, match="no such file or folder"):
        store.ingest([tmp_path / "missing.md"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeError, match="no knowledge files"):
        store.ingest([tmp_path / "empty"])
    with pytest.raises(KnowledgeError, match="nothing in the knowledge store came from here"):
        store.remove([tmp_path / "empty"])


def test_files_are_read_again_when_passages_are_written_differently(tmp_path):
    import json

    from knowledge.store import KnowledgeStore

    faq = tmp_path / "faq.jsonl"
    faq.write_text('{"id": "a", "question": "Q?", "answer": "A."}\n', encoding="utf-8")
    store = KnowledgeStore(tmp_path / "store")
    assert store.ingest([faq]).added == [str(faq.resolve())]
    manifest = tmp_path / "store" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({"files": data["files"]}))  # a store written before formats were versioned
    assert KnowledgeStore(tmp_path / "store").ingest([faq]).updated == [str(faq.resolve())]
    assert KnowledgeStore(tmp_path / "store").ingest([faq]).unchanged == [str(faq.resolve())]
