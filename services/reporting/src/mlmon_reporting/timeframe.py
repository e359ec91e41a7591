"""Durations written the way people type them: ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"``.

>>> parse_duration("24h")
datetime.timedelta(days=1)
>>> parse_duration("90s", field="timeframe").total_seconds()
90.0
>>> format_duration(parse_duration("36h"))
'1.5 d'
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: Longest duration accepted anywhere (the rollup retention).
MAX_DURATION = timedelta(days=90)


def parse_duration(text: str, *, field: str = "duration", maximum: timedelta = MAX_DURATION) -> timedelta:
    """Parse ``<number><s|m|h|d|w>``; errors name the field and show the accepted form."""
    if not isinstance(text, str):
        raise ValueError(f"{field}: expected a string like '24h', got {type(text).__name__}")
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"{field}: invalid duration {text!r}; expected <number><unit>, unit one of s, m, h, d, w")
    value = timedelta(seconds=float(m["n"]) * _UNIT_S[m["unit"]])
    if value <= timedelta(0):
        raise ValueError(f"{field}: duration must be positive, got {text!r}")
    if value > maximum:
        raise ValueError(f"{field}: duration {text!r} exceeds the maximum of {format_duration(maximum)}")
    return value


def format_duration(value: timedelta) -> str:
    """Human form with one unit: ``45 s``, ``12 min``, ``5 h``, ``3 d``, ``1.5 d``."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{_trim(seconds / size)} {unit}"
    return f"{_trim(seconds)} s"


def _trim(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")
