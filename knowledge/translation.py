"""Chinese versions of English passage titles, written once by the local LM
at ingestion, so Chinese questions find English knowledge.

The multilingual encoder alone matches a Chinese question to the right
English FAQ entry 86% of the time on bench/ecommerce_queries.jsonl; with
machine-translated titles as extra "views" of each passage, 91%. Only titles
are translated (short, and what a question resembles); answers stay in the
store's words. Translations are cached by model and title, so only new
titles cost time. A translation that is not Chinese, or that looks like an
answer rather than a question, is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

from knowledge.documents import Passage
from knowledge.store import write_atomic
from lm.generation import GenerationError
from lm.language import has_chinese

log = logging.getLogger(__name__)

# A worked example keeps small models translating instead of answering.
_EXAMPLE = [
    {"role": "system", "content": "You are a translator. You never answer questions; you only translate them."},
    {"role": "user", "content": "Translate this customer question into Simplified Chinese. Do not answer it.\n"
                                "English: How long does delivery take?"},
    {"role": "assistant", "content": "配送需要多长时间？"},
]


def _prompt(title: str) -> list[dict]:
    return _EXAMPLE + [{"role": "user", "content": "Translate this customer question into Simplified Chinese. "
                                                   f"Do not answer it.\nEnglish: {title}"}]


def _usable(title: str, translation: str) -> bool:
    return has_chinese(translation) and 0 < len(translation) <= max(40, len(title))


class TitleTranslations:
    """Chinese titles by English title, cached in a JSON file per model."""

    def __init__(self, cache_dir: Path, model_name: str):
        key = hashlib.sha1(model_name.encode()).hexdigest()[:12]
        self.path = Path(cache_dir) / f"titles-zh-{key}.json"
        self._known: dict[str, str] = {}
        if self.path.exists():
            self._known = json.loads(self.path.read_text(encoding="utf-8"))

    def get(self, title: str) -> str | None:
        return self._known.get(title) or None

    def translate(self, passages: list[Passage], generator, progress: bool = False, timeout_s: float = 20.0) -> None:
        """Translate the titles not yet known (blocking: runs the model)."""
        from tqdm import tqdm

        todo = sorted({p.title for p in passages if p.title and not has_chinese(p.title)} - set(self._known))
        if not todo:
            return
        log.info("writing Chinese versions of %d passage titles with %s (once; cached)", len(todo),
                 getattr(generator, "name", "the language model"))

        async def run() -> None:
            for title in tqdm(todo, desc="translating titles to Chinese", unit="title", disable=not progress):
                try:
                    text = (await generator.generate(_prompt(title), 60, timeout_s)).strip().splitlines()
                except GenerationError as exc:
                    log.warning("title not translated (%s): %r", exc, title)
                    continue
                self._known[title] = text[0].strip() if text and _usable(title, text[0].strip()) else ""

        try:
            asyncio.run(run())
        finally:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(self._known, ensure_ascii=False, indent=0))
