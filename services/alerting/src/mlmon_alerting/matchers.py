"""Label matchers in Alertmanager syntax: ``name="value"``, ``!=``, ``=~`` and ``!~`` (anchored regex).

>>> m = Matcher.parse('model_id=~"churn-.*"')
>>> m.matches({"model_id": "churn-eu"}), m.matches({"model_id": "fraud"})
(True, False)
>>> str(Matcher.parse("severity!=info"))
'severity!="info"'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s]*))\s*$')
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Matcher:
    """One label matcher; a missing label matches as the empty string (like Alertmanager)."""

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.match(self.name):
            raise ValueError(f"invalid label name {self.name!r}")
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ValueError(f"invalid matcher operator {self.op!r}; valid: =, !=, =~, !~")
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(f"^(?:{self.value})$"))
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``name<op>"value"`` (quotes optional when the value has no spaces)."""
        m = _MATCHER.match(text)
        if not m:
            raise ValueError(f'bad matcher {text!r}; expected name<op>"value" with op one of =, !=, =~, !~')
        value = m[3] if m[3] is not None else m[4]
        value = value.replace('\\"', '"').replace("\\\\", "\\")
        return cls(m[1], m[2], value)  # type: ignore[arg-type]

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.match(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
