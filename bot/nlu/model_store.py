"""Trained intent models on disk: versioned directories, newest wins.

    <models>/nlu/20261128-161500-3f2a9c1e0b7d/
        meta.json      per language route: encoder reference, labels, calibration;
                       the data fingerprint, settings and a training report
        en/head.npz    the linear head of each route (plain arrays, no pickle),
                       with the n-gram idf weights; en/ngrams.json, their vocabulary
        en/encoder/    a fine-tuned encoder, when the route has one
        zh/head.npz
        entities.json  regexes, lookup tables, synonyms and entity-role evidence
                       from the training data

meta.json is written last, so a directory without it is incomplete and ignored.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bot.nlu.classifier import Calibration, IntentClassifier, RoutedClassifier
from bot.nlu.entities import EntityExtractor, annotated_values, role_evidence
from bot.nlu.lexical import LexicalFeatures
from bot.nlu.training_data import TrainingData
from bot.yaml_files import yaml_files
from lm.embeddings import get_encoder

FORMAT_VERSION = 4  # 4: int8 encoders and n-gram features


class ModelStoreError(Exception):
    """A model directory is missing or unreadable."""


def fingerprint(data_files: Path | str | Iterable[Path | str], settings: dict) -> str:
    """Changes when any training data file or the training settings change.

    `data_files` is a file or the list of files the data was read from
    (TrainingData.files); a folder stands for all its .yml/.yaml files. One
    file gives the same fingerprint as before several were accepted, so
    existing models stay current.
    """
    files = yaml_files(data_files)
    digest = hashlib.sha256(json.dumps({"format": FORMAT_VERSION, **settings}, sort_keys=True).encode())
    if len(files) == 1:
        digest.update(files[0].read_bytes())
        return digest.hexdigest()
    for path in files:
        content = path.read_bytes()
        # the length keeps the files apart: moving a line from one to the next is a change
        digest.update(f"\n{len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def complete_models(root: Path) -> list[Path]:
    """Complete model directories under `root`, oldest first."""
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if (p / "meta.json").exists())


def find_model(root: Path, fp: str) -> Path | None:
    for directory in reversed(complete_models(root)):
        if json.loads((directory / "meta.json").read_text()).get("fingerprint") == fp:
            return directory
    return None


def latest_model(root: Path) -> Path | None:
    models = complete_models(root)
    return models[-1] if models else None


def new_model_dir(root: Path, fp: str) -> Path:
    directory = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{fp[:12]}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def save_model(directory: Path, routes: dict[str, tuple[IntentClassifier, str]], data: TrainingData, fp: str,
               settings: dict, report: dict) -> None:
    """`routes` maps a route name to (classifier, encoder reference); the
    reference "encoder" means the fine-tuned encoder in the route's folder."""
    meta_routes = {}
    for name, (classifier, encoder_ref) in routes.items():
        (directory / name).mkdir(exist_ok=True)
        arrays = {}
        if classifier.lexical is not None:
            vocab, arrays = classifier.lexical.state()
            (directory / name / "ngrams.json").write_text(json.dumps(vocab, ensure_ascii=False))
        np.savez_compressed(directory / name / "head.npz", weights=classifier.weights, bias=classifier.bias,
                            **arrays)
        meta_routes[name] = {"encoder": encoder_ref, "labels": classifier.labels,
                             "calibration": asdict(classifier.calibration),
                             "ngrams": classifier.lexical is not None}
    (directory / "entities.json").write_text(json.dumps(
        {"regexes": data.regexes, "lookups": data.lookups, "synonyms": data.synonyms,
         "roles": role_evidence(data.examples),
         "annotated": annotated_values(data.examples, data.regexes, data.lookups)}, ensure_ascii=False, indent=1))
    meta = {
        "format": FORMAT_VERSION,
        "routes": meta_routes,
        "fingerprint": fp,
        "settings": settings,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "training_data": data.source,
        "training_files": [str(f) for f in data.files],
        "training_warnings": data.warnings,
        "report": report,
    }
    (directory / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))


def load_model(directory: Path, threshold: float | None = None, extra_lookups: dict[str, list[str]] | None = None,
               dimensions: Iterable[str] = ()) -> tuple[RoutedClassifier, EntityExtractor, dict]:
    """(classifier, entity extractor, meta) of a saved model. `dimensions`: the Duckling dimensions
    (bot.nlu.entities.BUILTIN_DIMENSIONS) the extractor should find. Raises ModelStoreError."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ModelStoreError(f"{directory}: model format {meta.get('format')}, this version reads "
                                  f"{FORMAT_VERSION}; train again")
        heads = {name: np.load(directory / name / "head.npz") for name in meta["routes"]}
        entities = json.loads((directory / "entities.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise ModelStoreError(f"{directory}: not a complete intent model ({exc})") from None
    routes = {}
    for name, spec in meta["routes"].items():
        encoder_ref = spec["encoder"]
        encoder = get_encoder(str(directory / name / "encoder") if encoder_ref == "encoder" else encoder_ref)
        calibration = Calibration(**spec["calibration"])
        if threshold is not None:
            calibration.threshold, calibration.source = threshold, "config"
        lexical = None
        if spec.get("ngrams"):
            vocab = json.loads((directory / name / "ngrams.json").read_text())
            lexical = LexicalFeatures.from_state(vocab, heads[name])
        routes[name] = IntentClassifier(encoder, spec["labels"], heads[name]["weights"], heads[name]["bias"],
                                        calibration, lexical)
    classifier = RoutedClassifier(routes)
    lookups = dict(entities.get("lookups") or {})
    for name, values in (extra_lookups or {}).items():
        lookups[name] = list(lookups.get(name, [])) + list(values)
    extractor = EntityExtractor(entities.get("regexes"), lookups, entities.get("synonyms"),
                                roles=entities.get("roles"), annotated=entities.get("annotated"),
                                dimensions=dimensions)
    return classifier, extractor, meta
