"""Silences: matchers muting alerts between ``starts_at`` and ``ends_at``, with author and comment.

>>> from datetime import datetime, timedelta, UTC
>>> t = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
>>> s = Silence(id="s1", matchers=['model_id="churn"'], starts_at=t, ends_at=t + timedelta(hours=1),
...             created_by="ana", comment="retraining")
>>> s.state(t), s.state(t + timedelta(hours=2))
('active', 'expired')
>>> silenced_by({"model_id": "churn"}, [s], t)
['s1']
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_serializer, model_validator

from mlmon_alerting.matchers import Matcher

SilenceState = Literal["pending", "active", "expired"]


def _matcher(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise ValueError(f'matcher must be a string like name="value", got {type(value).__name__}')
    return Matcher.parse(value)


class Silence(BaseModel):
    """One silence (the API and CLI create them; the lead stores them in Redis as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    matchers: Annotated[list[Annotated[Matcher, BeforeValidator(_matcher)]], Field(min_length=1)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: Annotated[str, Field(min_length=1, max_length=200)]
    comment: Annotated[str, Field(min_length=1, max_length=2000)]
    updated_at: AwareDatetime | None = None

    @field_serializer("matchers")
    def _ser(self, matchers: list[Matcher]) -> list[str]:
        return [str(m) for m in matchers]

    @model_validator(mode="after")
    def _check(self) -> Silence:
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at must not be before starts_at")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError("at least one matcher must not match the empty string (it would silence everything)")
        if not self.created_by.strip() or not self.comment.strip():
            raise ValueError("created_by and comment must not be blank")
        return self

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) == "active" and all(m.matches(labels) for m in self.matchers)

    def expire(self, now: datetime) -> Silence:
        """End the silence now (a pending one ends before it starts); expired ones are unchanged."""
        state = self.state(now)
        if state == "expired":
            return self
        starts = now if state == "pending" else self.starts_at
        return self.model_copy(update={"starts_at": starts, "ends_at": now, "updated_at": now})


def silenced_by(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> list[str]:
    """Ids of the active silences muting ``labels`` (empty: not silenced)."""
    return [s.id for s in silences if s.mutes(labels, now)]
