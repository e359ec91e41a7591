"""Shared pydantic building blocks of the alerting config: strict models, durations, severities, matchers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mlmon_alerting.durations import parse_duration
from mlmon_alerting.matchers import Matcher
from mlmon_common.events import Severity


def _severity(value: object) -> object:
    if isinstance(value, str) and value.upper() in Severity.__members__:
        return Severity[value.upper()]
    if isinstance(value, str | int) and not isinstance(value, bool):
        raise ValueError(f"invalid severity {value!r}; valid: critical, warning, info (or 1, 2, 3)")
    return value


def _matcher(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise ValueError(f'matcher must be a string like name="value", got {type(value).__name__}')
    return Matcher.parse(value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
SeverityField = Annotated[Severity, BeforeValidator(_severity)]
MatcherField = Annotated[Matcher, BeforeValidator(_matcher)]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]


class StrictModel(BaseModel):
    """Unknown keys are errors (typos are caught), values frozen, NaN/inf rejected."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True, allow_inf_nan=False
    )
