"""Reading the YAML files a store owner edits, with errors that name the file.

YAML 1.2, as Rasa reads its files (ruamel.yaml): `Yes`, `No`, `on` and `off` are text, so a button
titled `Yes` stays "Yes"; only `true` and `false` are booleans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


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
