"""Building the assistant's parts from the configuration.

Everything here blocks (model loading, training, embedding): the server
calls it in a worker thread at start-up, the CLI calls it directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bot.config import Config
from bot.dialogue.domain import Domain
from bot.dialogue.policy import PolicyEnsemble
from bot.dialogue.rules import load_policy
from bot.nlu.interpreter import Interpreter
from bot.nlu.training import train_model
from knowledge.answers import KnowledgeAnswerer
from knowledge.catalog import load_catalog
from knowledge.documents import Passage
from knowledge.retrieval import EmptyRetriever, Retriever
from knowledge.store import KnowledgeStore
from knowledge.translation import TitleTranslations
from lm.generation import Generator, LlamaCppGenerator
from lm.models import ModelNotAvailable, resolve_gguf
from lm.openai_compatible import SPEC_PREFIX as OPENAI_SPEC
from lm.openai_compatible import OpenAICompatibleGenerator
from lm.sentiment import SUPPORTED as SENTIMENT_LANGUAGES
from lm.sentiment import SentimentError, get_analyser, review_language
from lm.transformers_backend import SPEC_PREFIX as TRANSFORMERS_SPEC
from lm.transformers_backend import TransformersGenerator

log = logging.getLogger(__name__)


@dataclass
class LoadedModels:
    interpreter: Interpreter
    answerer: KnowledgeAnswerer
    domain: Domain
    policy: PolicyEnsemble  # the rules and stories, trained
    lm_status: str = "none"  # the model's file name, "none", "not loaded yet", or why it is unavailable
    notes: list[str] = field(default_factory=list)
    sentiment: Callable[[str], dict | None] | None = None  # for the negative-sentiment handoff

    def attach_generator(self, config: Config) -> None:
        """Load the configured chat model now (blocking): for models loaded
        with_lm=False in a parent process, once per worker after the fork."""
        generator, self.lm_status = load_generator(config)
        self.answerer.generator = generator


def models_dir(config: Config) -> Path:
    return config.data_dir / "models"


def catalog_lookups(config: Config) -> dict[str, list[str]]:
    """Product names, colours and sizes from the catalog, as entity lookup tables."""
    if config.knowledge.catalog is None:
        return {}
    products = load_catalog(config.knowledge.catalog)
    return {"product": [p.name for p in products],
            "colour": sorted({c for p in products for c in p.colours}),
            # one-letter sizes ("S", "M") are too ambiguous to find in free text
            "size": sorted({s for p in products for s in p.sizes if len(s) > 1 and not s.startswith("$")})}


def train_intents(config: Config, progress: bool = False) -> Interpreter:
    nlu = config.nlu
    directory = train_model(nlu.data, models_dir(config) / "nlu", lang=nlu.lang, encoder=nlu.encoder,
                            finetune=nlu.finetune, progress=progress, strict=nlu.strict)
    return Interpreter.load(directory, nlu.fallback_threshold, catalog_lookups(config), nlu.builtin_entities)


def load_generator(config: Config) -> tuple[Generator | None, str]:
    """The configured chat model, or None with the reason it is not available."""
    if config.lm.model.lower() == "none":
        return None, "none"
    if config.lm.model.startswith(OPENAI_SPEC):
        generator = OpenAICompatibleGenerator(config.lm.model)  # a bad spec is a config error: raise
        return generator, generator.name
    if config.lm.model.startswith(TRANSFORMERS_SPEC):
        try:
            generator = TransformersGenerator(config.lm.model, threads=config.lm.threads)
        except (ImportError, ValueError, OSError, RuntimeError) as exc:
            log.warning("language model failed to load (%s); answers will quote the knowledge", exc)
            return None, f"unavailable: {exc}"
        return generator, generator.name
    try:
        path = resolve_gguf(config.lm.model, models_dir(config))
        generator = LlamaCppGenerator(path, threads=config.lm.threads)
    except ModelNotAvailable as exc:
        log.warning("language model not available (%s); answers will quote the FAQ", exc)
        return None, f"unavailable: {exc}"
    except (ImportError, ValueError, OSError, RuntimeError) as exc:
        log.warning("language model failed to load (%s); answers will quote the FAQ", exc)
        return None, f"unavailable: {exc}"
    return generator, generator.name


def knowledge_store(config: Config) -> KnowledgeStore:
    return KnowledgeStore(config.data_dir / "knowledge" / "store")


def build_retriever(config: Config, passages: list[Passage], generator=None,
                    progress: bool = False) -> Retriever | EmptyRetriever:
    """A retriever over `passages`; with a language model (and
    knowledge.translate_titles), English titles also get Chinese versions.
    With no passages at all, an EmptyRetriever (every question: "I don't know")."""
    if not passages:
        log.warning("knowledge: none ingested; questions will be answered with \"I don't know\" and the "
                    "offer of a person (add documents with knowledge.sources or `shopkeep knowledge ingest`)")
        return EmptyRetriever()
    chinese_titles = None
    if generator is not None and config.knowledge.translate_titles:
        translations = TitleTranslations(config.data_dir / "knowledge", generator.name)
        translations.translate(passages, generator, progress=progress, timeout_s=config.lm.timeout_s)
        chinese_titles = [translations.get(p.title) for p in passages]
    return Retriever(passages, config.data_dir / "knowledge" / "vectors", progress=progress,
                     chinese_titles=chinese_titles)


def load_retriever(config: Config, generator=None, progress: bool = False) -> Retriever:
    """The retriever over the knowledge store, after ingesting the configured
    sources (a no-op for files that have not changed)."""
    store = knowledge_store(config)
    if config.knowledge.sources:
        report = store.ingest(list(config.knowledge.sources), progress=progress)
        log.info("knowledge: %s", report.text())
    return build_retriever(config, store.passages, generator, progress)


def build_answerer(config: Config, retriever: Retriever, generator: Generator | None) -> KnowledgeAnswerer:
    k, lm = config.knowledge, config.lm
    return KnowledgeAnswerer(retriever, config.store_name, generator, lm.timeout_s,
                             min_probability=k.min_answer_probability)


LM_DEFERRED = "not loaded yet"


def load_sentiment(config: Config) -> Callable[[str], dict | None] | None:
    """The message sentiment scorer for the negative-sentiment handoff (lm/sentiment.py), loaded now;
    None when the handoff is off (console.negative_sentiment_handoff: null). The scorer gives
    {"label", "score" (-1..1), "lang"}, or None for a text it cannot or should not score (no letters,
    a language not in console.negative_sentiment_languages)."""
    languages = tuple(lang for lang in config.console.negative_sentiment_languages if lang in SENTIMENT_LANGUAGES)
    if config.console.negative_sentiment_handoff is None or not languages:
        return None
    analyser = get_analyser()
    analyser.warm_up(languages)

    def score(text: str) -> dict | None:
        try:
            if review_language(text) not in languages:
                return None
            return analyser.classify(text).as_dict()
        except SentimentError:
            return None

    return score


def load_models(config: Config, with_lm: bool = True) -> LoadedModels:
    """Everything the bot needs, loaded (and trained or indexed if changed).

    with_lm=False leaves the chat model out (lm_status LM_DEFERRED), for a
    parent process whose forked workers each call attach_generator."""
    domain = Domain.load(config.dialogue.domain)
    policy = load_policy(config.dialogue.rules, domain, config.dialogue.max_history)
    interpreter = train_intents(config)
    unknown = {i.split("/")[0] for i in interpreter.intents} - set(domain.intents)  # (faq/x: retrieval intent faq)
    if unknown:
        log.warning("intents in the training data but not in the domain: %s", ", ".join(sorted(unknown)))
    generator, lm_status = load_generator(config) if with_lm or config.knowledge.translate_titles else (None, "")
    retriever = load_retriever(config, generator)  # the generator writes missing title translations
    if not with_lm:
        if generator is not None:
            generator.close()
        generator, lm_status = None, LM_DEFERRED
    return LoadedModels(interpreter, build_answerer(config, retriever, generator), domain, policy, lm_status,
                        sentiment=load_sentiment(config))
