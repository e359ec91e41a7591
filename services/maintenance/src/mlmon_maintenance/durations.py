"""Durations in config: seconds, ISO 8601 (``P7D``) or a short form (``90s``, ``15m``, ``12h``, ``7d``, ``2w``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_SHORT = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<u>s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> Any:
    """``"7d"`` -> ``timedelta(days=7)``; anything else is left to pydantic (seconds, ISO 8601).

    >>> parse_duration("90m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration(5)
    5
    """
    if isinstance(value, str) and (m := _SHORT.match(value)):
        return timedelta(seconds=float(m["n"]) * _UNIT_S[m["u"]])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
