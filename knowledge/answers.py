"""Answering a shopper's question from the store's knowledge.

Retrieve the best FAQ entry; below the score threshold, say so and offer a
person. Otherwise let the language model phrase the answer from that entry
only, and send its words only if the grounding check passes; any failure
(no model, timeout, busy, ungrounded) sends the store's own text verbatim.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from knowledge.grounding import is_grounded
from knowledge.index import FaqIndex
from lm.generation import GenerationError, LlamaCppGenerator

log = logging.getLogger(__name__)

DONT_KNOW = ("I'm sorry, I don't have reliable information about that, and I don't want to guess. "
             "Would you like me to connect you with a person from our team?")


@dataclass
class KnowledgeAnswer:
    text: str
    sources: list[str] = field(default_factory=list)
    abstained: bool = False
    generated: bool = False  # True when the LM's phrasing was sent
    score: float = 0.0


def build_prompt(store_name: str, question: str, passage_id: str, passage: str) -> list[dict]:
    # The passage is data, not instructions: it is quoted and the rules come
    # first, so text inside it cannot change what the model is told to do.
    system = (f"You are the customer service assistant of {store_name}. Answer the shopper's question "
              "using only the facts in the store information. Do not add facts, numbers, promises or "
              "advice that are not in it. Answer in one to three short sentences.")
    user = f"Store information [{passage_id}]:\n\"\"\"\n{passage}\n\"\"\"\n\nShopper's question: {question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class KnowledgeAnswerer:
    def __init__(self, index: FaqIndex, min_score: float, store_name: str,
                 generator: LlamaCppGenerator | None = None, timeout_s: float = 20.0, max_tokens: int = 160):
        self.index = index
        self.min_score = min_score
        self.store_name = store_name
        self.generator = generator
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens

    async def answer(self, question: str) -> KnowledgeAnswer:
        hits = await asyncio.to_thread(self.index.search, question, 3)
        if not hits or hits[0].score < self.min_score:
            return KnowledgeAnswer(DONT_KNOW, abstained=True, score=hits[0].score if hits else 0.0)
        best = hits[0]
        verbatim = KnowledgeAnswer(best.entry.answer, [best.entry.id], score=best.score)
        if self.generator is None:
            return verbatim
        prompt = build_prompt(self.store_name, question, best.entry.id, best.entry.answer)
        try:
            text = await self.generator.generate(prompt, self.max_tokens, self.timeout_s)
        except GenerationError as exc:
            log.warning("LM answer not used (%s); sending the FAQ text", exc)
            return verbatim
        if not is_grounded(text, [best.entry.question, best.entry.answer], question):
            log.info("LM answer not grounded in %s; sending the FAQ text. LM said: %r", best.entry.id, text)
            return verbatim
        return KnowledgeAnswer(text, [best.entry.id], generated=True, score=best.score)
