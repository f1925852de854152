"""The knowledge store: every passage the bot may answer from, persisted
under the data directory with a manifest of the files it came from.

Ingestion is incremental: a file whose content hash is unchanged is skipped,
a changed file's passages replace its old ones, and a file gone from an
ingested folder is removed with its passages. Writes are atomic, so a crash
mid-ingest leaves the previous store intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.documents import PASSAGE_FORMAT, SUFFIXES, KnowledgeError, Passage, load_passages


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)  # files
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    passages: int = 0  # in the store after the change

    def text(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed; {self.passages} passages in the store")


def knowledge_files(path: Path) -> list[Path]:
    """The knowledge files at `path`: the file itself, or those under a folder."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                      and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not path.exists():
        raise KnowledgeError(f"{path}: no such file or folder")
    return [path]


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a crash leaves the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class KnowledgeStore:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._files: dict[str, dict] = {}  # resolved path -> {"sha256", "ids"}
        self._passages: dict[str, Passage] = {}
        manifest = self.directory / "manifest.json"
        if manifest.exists():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            self._files = data["files"]
            if data.get("format", 1) != PASSAGE_FORMAT:
                # passages are written differently now: every file is read again at the next ingest
                for entry in self._files.values():
                    entry["sha256"] = None
            with open(self.directory / "passages.jsonl", encoding="utf-8") as f:
                for line in f:
                    p = Passage(**json.loads(line))
                    self._passages[p.id] = p

    @property
    def passages(self) -> list[Passage]:
        return list(self._passages.values())

    @property
    def files(self) -> list[str]:
        return sorted(self._files)

    def ingest(self, paths: list[Path], progress: bool = False) -> IngestReport:
        """Add or refresh the knowledge at `paths` (files or folders). All or
        nothing: on an error the store stays as it was, on disk and here."""
        saved = dict(self._files), dict(self._passages)
        try:
            return self._ingest(paths, progress)
        except BaseException:
            self._files, self._passages = saved
            raise

    def _ingest(self, paths: list[Path], progress: bool) -> IngestReport:
        from tqdm import tqdm

        report = IngestReport()
        wanted: list[Path] = []
        for path in paths:
            path = Path(path).resolve()
            found = knowledge_files(path)
            if path.is_dir():
                # files that were ingested from this folder and are gone now
                for name in list(self._files):
                    if Path(name).is_relative_to(path) and Path(name) not in found:
                        self._drop(name)
                        report.removed.append(name)
            wanted += found
        if not wanted and not report.removed:
            raise KnowledgeError(f"no knowledge files ({', '.join(sorted(SUFFIXES))}) at {', '.join(map(str, paths))}")
        for path in tqdm(wanted, desc="ingesting", unit="file", disable=not progress):
            name = str(path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if self._files.get(name, {}).get("sha256") == digest:
                report.unchanged.append(name)
                continue
            passages = load_passages(path)
            for p in passages:
                owner = self._passages.get(p.id)
                if owner is not None and owner.source != name:
                    raise KnowledgeError(f"{path}: id {p.id!r} is already used by {owner.source}")
            (report.updated if name in self._files else report.added).append(name)
            self._drop(name)
            self._files[name] = {"sha256": digest, "ids": [p.id for p in passages]}
            self._passages.update({p.id: p for p in passages})
        self._save()
        report.passages = len(self._passages)
        return report

    def remove(self, paths: list[Path]) -> IngestReport:
        """Forget the knowledge that came from `paths` (files or folders)."""
        report = IngestReport()
        for path in paths:
            path = Path(path).resolve()
            names = [n for n in self._files if Path(n) == path or Path(n).is_relative_to(path)]
            if not names:
                raise KnowledgeError(f"{path}: nothing in the knowledge store came from here")
            for name in names:
                self._drop(name)
                report.removed.append(name)
        self._save()
        report.passages = len(self._passages)
        return report

    def _drop(self, name: str) -> None:
        for pid in self._files.pop(name, {}).get("ids", []):
            self._passages.pop(pid, None)

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # passages first: a manifest never names passages that are not on disk
        write_atomic(self.directory / "passages.jsonl",
                      "".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in self._passages.values()))
        write_atomic(self.directory / "manifest.json",
                     json.dumps({"format": PASSAGE_FORMAT, "files": self._files}, indent=1))
