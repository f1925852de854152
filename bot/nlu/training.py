"""Training an intent model from data files into a versioned model directory.

Nothing is trained when a model for exactly this data and these settings
already exists. The encoder is chosen by language: MiniLM for English, the
multilingual e5 for Chinese; mixed data gets one route for each (`--lang
auto` decides from the share of examples with Chinese characters).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from bot.nlu.classifier import heldout_split, train_classifier
from bot.nlu.entities import annotated_values
from bot.nlu.model_store import find_model, fingerprint, new_model_dir, save_model
from bot.nlu.training_data import load_training_data
from lm.embeddings import get_encoder, resolve_encoder_path
from lm.language import has_chinese

log = logging.getLogger(__name__)

ENCODER_FOR_LANG = {"en": "packaged:all-MiniLM-L6-v2", "zh": "packaged:multilingual-e5-small"}
# The encoder is not fine-tuned unless asked (`nlu.finetune: true`, `--finetune`):
# its gain on a random split of the training file does not carry over to messages
# written in another style. CLINC150 (15,000 examples; 3 epochs, 8 minutes on 2
# cores): in-scope 90.8% -> 94.4% on the split, but 86.6% -> 88.2% on the shifted
# set, with out-of-scope recall 94% -> 90%. Bitext: 100% either way on the split,
# 75.5% -> 77.3% shifted, yet 90.5% -> 88.4% on independent Bitext utterances.
# One epoch: Bitext shifted 79.6%, CLINC150 88.0% split and 81.8% shifted, below
# frozen. On BANKING77 fine-tuning cost 0.9 points (92.1% -> 91.2%). No setting
# beat the frozen MiniLM on every shifted set, so frozen is the default.
#   .venv/bin/python bench/intent_shift.py --set bitext clinc150 --variant frozen finetune finetune-1epoch
FINETUNE_MIN_EXAMPLES = float("inf")  # English examples needed to fine-tune by default: never


def chinese_share(texts: list[str]) -> float:
    return sum(1 for t in texts if has_chinese(t)) / len(texts) if texts else 0.0


def plan_routes(texts: list[str], lang: str, encoder: str | None) -> dict[str, str]:
    """Language route -> encoder spec.

    Measured on BANKING77 (bench/nlu.py): MiniLM is more accurate on English
    than the multilingual e5 (90.8% vs 89.7%) and twice as fast, so mixed data
    gets both: English messages go to MiniLM, Chinese ones to e5.
    """
    if lang not in ("auto", *ENCODER_FOR_LANG):
        raise ValueError(f"language must be one of auto, {', '.join(ENCODER_FOR_LANG)}; got {lang!r}")
    if lang == "auto":
        share = chinese_share(texts)
        lang = "zh" if share >= 0.9 else "en" if share < 0.1 else "mixed"
    if encoder:
        return {"zh" if lang == "zh" else "en": encoder}
    if lang == "mixed":
        return dict(ENCODER_FOR_LANG)
    return {lang: ENCODER_FOR_LANG[lang]}


def train_model(data_files: str | Path | Iterable[str | Path], models_root: Path, lang: str = "auto",
                encoder: str | None = None, finetune: bool | None = None, threshold: float | None = None,
                progress: bool = True, force: bool = False, strict: bool = False) -> Path:
    """Train (or find) the model for this data; return its directory.

    `data_files` is a file, a folder (a Rasa project's data/) or a list of
    them, as load_training_data reads them. `finetune` None means: fine-tune
    the English encoder when its route has at least FINETUNE_MIN_EXAMPLES
    examples (by default never). `strict` refuses an example under two intents instead of
    leaving it out with a warning.
    """
    data = load_training_data(data_files, strict=strict)
    routes = plan_routes([e.text for e in data.examples], lang, encoder)
    if finetune is None:
        english = [e for e in data.examples if len(routes) == 1 or not has_chinese(e.text)]
        finetune = len(english) >= FINETUNE_MIN_EXAMPLES
    settings = {"lang": lang, "routes": routes, "finetune": finetune, "threshold": threshold}
    # Models from before entity roles were read, or before `out_of_scope` was
    # an ordinary intent, were trained differently from the same files: only
    # data that has either needs a new model, so only it gets these keys.
    if any("role" in entity for e in data.examples for entity in e.entities):
        settings["entity_roles"] = True
    if "out_of_scope" in data.intents:
        settings["out_of_scope_intent"] = True
    if annotated_values(data.examples, data.regexes, data.lookups):
        settings["annotated_entities"] = True  # models from before these were found again lack them
    fp = fingerprint(data.files, settings)
    if not force and (existing := find_model(models_root, fp)):
        log.info("intent model %s is up to date", existing)
        return existing
    started = time.monotonic()
    directory = new_model_dir(models_root, fp)
    trained = {}
    for route, encoder_spec in routes.items():
        # With two routes, the English one learns from the examples without
        # Chinese; the multilingual one learns from all of them.
        keep = (lambda t: not has_chinese(t)) if route == "en" and len(routes) > 1 else (lambda t: True)
        examples = [e for e in data.examples if keep(e.text)]
        texts, labels = [e.text for e in examples], [e.intent for e in examples]
        oos = [e.text for e in data.out_of_scope if keep(e.text)]
        tune = finetune and encoder_spec != ENCODER_FOR_LANG["zh"]  # the packaged e5 is 4-bit: not trainable
        log.info("training intent route %s: %d examples, %d intents, %d out-of-scope, encoder %s%s",
                 route, len(texts), len(set(labels)), len(oos), encoder_spec, " (fine-tuned)" if tune else "")
        encoder_ref = encoder_spec
        if tune:
            from bot.nlu.finetune import finetune_encoder

            # Fine-tune on the training part only, so that the held-out part
            # still calibrates confidence honestly.
            train_idx, _ = heldout_split(labels)
            (directory / route).mkdir(exist_ok=True)
            finetune_encoder(resolve_encoder_path(encoder_spec), [texts[i] for i in train_idx],
                             [labels[i] for i in train_idx], directory / route / "encoder", progress=progress)
            encoder_ref = "encoder"
            model_encoder = get_encoder(str(directory / route / "encoder"))
        else:
            model_encoder = get_encoder(encoder_spec)
        classifier = train_classifier(model_encoder, texts, labels, oos, threshold=threshold, progress=progress)
        trained[route] = (classifier, encoder_ref)
    report = {"examples": len(data.examples), "intents": len(data.intents),
              "out_of_scope_examples": len(data.out_of_scope), "seconds": round(time.monotonic() - started, 1)}
    save_model(directory, trained, data, fp, settings, report)
    return directory
