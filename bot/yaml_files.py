"""Reading the YAML files a store owner edits, with errors that name the file.

YAML 1.2, as Rasa reads its files (ruamel.yaml): `Yes`, `No`, `on` and `off` are text, so a button
titled `Yes` stays "Yes"; only `true` and `false` are booleans.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

YAML_SUFFIXES = (".yml", ".yaml")


def yaml_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The files `paths` stands for: a file as given; a folder's .yml/.yaml files, recursively, in name
    order, hidden ones skipped (a Rasa project's data/ or domain/ folder)."""
    files: list[Path] = []
    for path in map(Path, [paths] if isinstance(paths, (str, Path)) else paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in YAML_SUFFIXES
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            files.append(path)
    return files


def _parser() -> YAML:
    return YAML(typ="safe", pure=True)


def read_yaml(path: str | Path, error: type[Exception]) -> Any:
    """The parsed file; `error` is raised with the path (and line) on a problem."""
    path = Path(path)
    try:
        return _parser().load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: a folder, where a YAML file was expected") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
