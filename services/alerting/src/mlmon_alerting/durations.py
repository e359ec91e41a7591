"""Durations as people write them in config files: ``30s``, ``5m``, ``4h``, ``1d``, ``1h30m`` or seconds.

>>> parse_duration("1h30m"), parse_duration("250ms"), parse_duration(42)
(5400.0, 0.25, 42.0)
>>> format_duration(5400.0)
'1h30m'
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")


def parse_duration(value: object) -> float:
    """Seconds from ``"5m"``-style strings or non-negative numbers; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}; use e.g. 30s, 5m, 4h, 1d or a number of seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"invalid duration {value!r}; must be a finite number of seconds >= 0")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _WHOLE.match(text):
            return float(sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))
    raise ValueError(f"invalid duration {value!r}; use e.g. 30s, 5m, 4h, 1d or a number of seconds")


def format_duration(seconds: float) -> str:
    """The shortest ``1d2h3m4s`` spelling of whole seconds (``0s`` for zero)."""
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"
