"""Training an intent model from a data file into a versioned model directory.

Nothing is trained when a model for exactly this data and these settings
already exists. The encoder is chosen by language: MiniLM for English, the
multilingual e5 for Chinese; mixed data gets one route for each (`--lang
auto` decides from the share of examples with Chinese characters).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from bot.nlu.classifier import IntentClassifier, heldout_split, train_classifier
from bot.nlu.language import has_chinese
from bot.nlu.model_store import find_model, fingerprint, new_model_dir, save_model
from bot.nlu.training_data import load_training_data
from lm.embeddings import get_encoder, resolve_encoder_path

log = logging.getLogger(__name__)

ENCODER_FOR_LANG = {"en": "packaged:all-MiniLM-L6-v2", "zh": "packaged:multilingual-e5-small"}
# Fine-tuning can pay off on large data: on CLINC150 (15,000 examples) it took
# in-scope accuracy from 90.8% to 94.4% and out-of-scope recall from 92.0% to
# 93.0%, in 8 minutes on 2 cores; on BANKING77 it lost 0.9 points. So with
# enough data both are trained and the held-out part decides. On a few hundred
# examples it would only cost start-up time.
FINETUNE_MIN_EXAMPLES = 1000


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


def heldout_score(classifier: IntentClassifier) -> float:
    """In-scope accuracy plus out-of-scope recall on the held-out part: the
    same balance the threshold is chosen by."""
    calibration = classifier.calibration
    return (calibration.heldout_accuracy or 0.0) + (calibration.heldout_oos_recall or 0.0)


def train_model(data_file: str | Path, models_root: Path, lang: str = "auto", encoder: str | None = None,
                finetune: bool | None = None, threshold: float | None = None, progress: bool = True,
                force: bool = False) -> Path:
    """Train (or find) the model for this data; return its directory.

    `finetune` None means: with at least FINETUNE_MIN_EXAMPLES English
    examples, train the English route both ways and keep the one that does
    better on the held-out part.
    """
    data_file = Path(data_file)
    data = load_training_data(data_file)
    routes = plan_routes([e.text for e in data.examples], lang, encoder)
    settings = {"lang": lang, "routes": routes, "finetune": finetune, "threshold": threshold}
    fp = fingerprint(data_file, settings)
    if not force and (existing := find_model(models_root, fp)):
        log.info("intent model %s is up to date", existing)
        return existing
    started = time.monotonic()
    directory = new_model_dir(models_root, fp)
    trained, choices = {}, {}
    for route, encoder_spec in routes.items():
        # With two routes, the English one learns from the examples without
        # Chinese; the multilingual one learns from all of them.
        keep = (lambda t: not has_chinese(t)) if route == "en" and len(routes) > 1 else (lambda t: True)
        examples = [e for e in data.examples if keep(e.text)]
        texts, labels = [e.text for e in examples], [e.intent for e in examples]
        oos = [e.text for e in data.out_of_scope if keep(e.text)]
        trainable = encoder_spec != ENCODER_FOR_LANG["zh"]  # the packaged e5 is 4-bit: not trainable
        tune = trainable and (finetune if finetune is not None else len(texts) >= FINETUNE_MIN_EXAMPLES)
        log.info("training intent route %s: %d examples, %d intents, %d out-of-scope, encoder %s",
                 route, len(texts), len(set(labels)), len(oos), encoder_spec)
        candidates = []
        if not tune or finetune is None:
            frozen = train_classifier(get_encoder(encoder_spec), texts, labels, oos, threshold=threshold,
                                      progress=progress)
            candidates.append((heldout_score(frozen), frozen, encoder_spec))
        if tune:
            tuned = train_classifier(_finetuned_encoder(encoder_spec, texts, labels, directory / route, progress),
                                     texts, labels, oos, threshold=threshold, progress=progress)
            candidates.append((heldout_score(tuned), tuned, "encoder"))
        score, classifier, encoder_ref = max(candidates, key=lambda c: c[0])
        if len(candidates) > 1:
            choices[route] = {"frozen": round(candidates[0][0], 4), "finetuned": round(candidates[1][0], 4)}
            log.info("route %s: held-out score frozen %.4f, fine-tuned %.4f; keeping %s", route,
                     candidates[0][0], candidates[1][0], "fine-tuned" if encoder_ref == "encoder" else "frozen")
        if encoder_ref != "encoder" and (directory / route / "encoder").exists():
            shutil.rmtree(directory / route / "encoder")
        trained[route] = (classifier, encoder_ref)
    report = {"examples": len(data.examples), "intents": len(data.intents),
              "out_of_scope_examples": len(data.out_of_scope), "seconds": round(time.monotonic() - started, 1),
              "finetune_choice": choices}
    save_model(directory, trained, data, fp, settings, report)
    return directory


def _finetuned_encoder(encoder_spec: str, texts: list[str], labels: list[str], route_dir: Path, progress: bool):
    from bot.nlu.finetune import finetune_encoder

    # Fine-tune on the training part only, so that the held-out part still
    # calibrates confidence, and compares frozen and fine-tuned, honestly.
    train_idx, _ = heldout_split(labels)
    route_dir.mkdir(parents=True, exist_ok=True)
    finetune_encoder(resolve_encoder_path(encoder_spec), [texts[i] for i in train_idx],
                     [labels[i] for i in train_idx], route_dir / "encoder", progress=progress)
    return get_encoder(str(route_dir / "encoder"))
