"""The environment-variable reference of a settings class, as Markdown table rows (for docs/configuration.md).

>>> from mlmon_common.settings import ServiceSettings
>>> rows = env_rows(ServiceSettings)
>>> any(r.startswith("| `MLMON_KAFKA_BOOTSTRAP` ") for r in rows)
True
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "(required)"
    else:
        value = info.default
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return f"`{secret}`" if secret and "@" not in secret else ("(secret)" if secret else "unset")
    if isinstance(value, BaseModel):
        return ""
    return "unset" if value is None else f"`{value}`"


def env_rows(settings: type[BaseModel], prefix: str = "MLMON_") -> list[str]:
    """One ``| VAR | default | description |`` row per leaf field (nested models split on ``_``)."""
    rows: list[str] = []
    for name, info in settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += env_rows(annotation, f"{prefix}{name.upper()}_")
            continue
        desc = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name.upper()}` | {_default(info)} | {desc} |")
    return rows


if __name__ == "__main__":  # python -m mlmon_common.envdoc: the rows for docs/configuration.md
    import sys

    from mlmon_common.settings import ServiceSettings

    sys.stdout.write("\n".join(env_rows(ServiceSettings)) + "\n")
