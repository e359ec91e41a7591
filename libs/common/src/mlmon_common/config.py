"""The one mlmon YAML config (``MLMON_CONFIG``): each service validates its own section with pydantic.

Errors name the file, the YAML path and the problem, e.g.::

    /etc/mlmon/config.yml: maintenance.schedules.retraining: Input should be a valid duration (got 'weekly')

>>> from pydantic import BaseModel
>>> class Section(BaseModel):
...     every_s: int = 60
>>> load_section(None, "demo", Section)
Section(every_s=60)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mlmon_common.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse the whole file; a syntax error names the line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(doc).__name__}")
    return doc


def format_errors(source: str, prefix: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        parts = [prefix] if prefix else []
        for loc in err["loc"]:
            if isinstance(loc, int) and parts:
                parts[-1] = f"{parts[-1]}[{loc}]"
            else:
                parts.append(str(loc))
        path = ".".join(parts) or "<root>"
        lines.append(f"{source}: {path}: {err['msg']}")
    return "\n".join(lines)


def load_section(path: Path | None, section: str, model: type[M]) -> M:
    """Validate ``section`` of the config file (defaults when there is no file or no such section)."""
    if path is None:
        return model()
    raw = read_yaml(path).get(section) or {}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(str(path), section, exc)) from exc
