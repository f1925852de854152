"""Training an intent model from a data file into a versioned model directory.

Nothing is trained when a model for exactly this data and these settings
already exists. The encoder is chosen by language: MiniLM for English, the
multilingual e5 for Chinese or mixed data (`--lang auto` decides from the
share of examples with Chinese characters).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from bot.nlu.classifier import heldout_split, train_classifier
from bot.nlu.model_store import find_model, fingerprint, new_model_dir, save_model
from bot.nlu.training_data import load_training_data
from lm.embeddings import get_encoder, resolve_encoder_path

log = logging.getLogger(__name__)

ENCODER_FOR_LANG = {"en": "packaged:all-MiniLM-L6-v2", "zh": "packaged:multilingual-e5-small"}
_CJK = re.compile(r"[\u3400-\u9fff]")


def detect_lang(texts: list[str]) -> str:
    """"zh" when at least a tenth of the examples contain Chinese characters."""
    chinese = sum(1 for t in texts if _CJK.search(t))
    return "zh" if texts and chinese / len(texts) >= 0.1 else "en"


def train_model(data_file: str | Path, models_root: Path, lang: str = "auto", encoder: str | None = None,
                finetune: bool = False, threshold: float | None = None, progress: bool = True,
                force: bool = False) -> Path:
    """Train (or find) the model for this data; return its directory."""
    data_file = Path(data_file)
    data = load_training_data(data_file)
    texts = [e.text for e in data.examples]
    labels = [e.intent for e in data.examples]
    if lang == "auto":
        lang = detect_lang(texts)
    if lang not in ENCODER_FOR_LANG:
        raise ValueError(f"language must be one of auto, {', '.join(ENCODER_FOR_LANG)}; got {lang!r}")
    encoder_spec = encoder or ENCODER_FOR_LANG[lang]
    if finetune and encoder_spec == ENCODER_FOR_LANG["zh"]:
        log.warning("the packaged multilingual encoder is 4-bit and cannot be fine-tuned; training its head only")
        finetune = False
    settings = {"lang": lang, "encoder": encoder_spec, "finetune": finetune, "threshold": threshold}
    fp = fingerprint(data_file, settings)
    if not force and (existing := find_model(models_root, fp)):
        log.info("intent model %s is up to date", existing)
        return existing
    started = time.monotonic()
    directory = new_model_dir(models_root, fp)
    log.info("training intent model: %d examples, %d intents, %d out-of-scope, encoder %s%s -> %s",
             len(texts), len(data.intents), len(data.out_of_scope), encoder_spec,
             " (fine-tuned)" if finetune else "", directory)
    encoder_ref = encoder_spec
    if finetune:
        from bot.nlu.finetune import finetune_encoder

        # Fine-tune on the training part only, so that the held-out part
        # still calibrates confidence honestly.
        train_idx, _ = heldout_split(labels)
        finetune_encoder(resolve_encoder_path(encoder_spec), [texts[i] for i in train_idx],
                         [labels[i] for i in train_idx], directory / "encoder", progress=progress)
        encoder_ref = "encoder"
        model_encoder = get_encoder(str(directory / "encoder"))
    else:
        model_encoder = get_encoder(encoder_spec)
    classifier = train_classifier(model_encoder, texts, labels, [e.text for e in data.out_of_scope],
                                  threshold=threshold, progress=progress)
    report = {"examples": len(texts), "intents": len(data.intents), "out_of_scope_examples": len(data.out_of_scope),
              "seconds": round(time.monotonic() - started, 1)}
    save_model(directory, classifier, data, fp, encoder_ref, settings, report)
    return directory
