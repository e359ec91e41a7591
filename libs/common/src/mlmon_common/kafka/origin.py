"""Where a derived record came from, and skipping the copies an upstream replay publishes.

The collector's raw -> canonical stage publishes each canonical prediction (and each outcome) with the header
``mlmon.origin`` = ``<topic>:<partition>:<offset>`` of the raw record it came from. Its runner stores offsets
only after everything a batch produced is acknowledged, and its producer is idempotent (in order, per
partition), so a consumer of a canonical topic sees the origins of one source partition in increasing offset
order — until the upstream stage is killed and its successor replays from its last commit. The records of
that replay have origins at or below the highest one already applied: they are copies (same ``event_id``,
same content). :class:`OriginMarks` keeps that highest offset per (consumed topic, source partition) — a few
entries, not one per event — and is checkpointed with the consumer's own state, so the skip is exact across
its own restarts too. A record without the header (published by something else) is always applied.

>>> marks = OriginMarks()
>>> [marks.replayed("predictions", o) for o in (b"raw:0:5", b"raw:0:6", b"raw:1:2", b"raw:0:6", b"raw:0:7", None)]
[False, False, False, True, False, False]
>>> marks.replayed("outcomes", b"raw:0:6")  # the same raw record's outcome is another stream
False
>>> OriginMarks.from_state(marks.to_state()).replayed("predictions", b"raw:0:7")
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlmon_common.topics import ORIGIN

__all__ = ["ORIGIN", "OriginMarks", "origin_header", "origin_of"]


def origin_header(topic: str, partition: int, offset: int) -> tuple[str, bytes]:
    """The header to put on a record derived from ``topic``/``partition``/``offset``."""
    return ORIGIN, f"{topic}:{partition}:{offset}".encode()


def origin_of(headers: Iterable[tuple[str, Any]] | Mapping[str, Any] | None) -> bytes | None:
    """The origin header's value among a record's headers (confluent-kafka or aiokafka form), or None."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if name == ORIGIN:
            return value if isinstance(value, bytes) else None
    return None


class OriginMarks:
    """The highest source offset applied per ``(consumed topic, source topic-partition)``."""

    __slots__ = ("_marks",)

    def __init__(self, marks: Mapping[str, int] | None = None) -> None:
        """``marks``: :meth:`to_state` output (``"<consumed>|<source>"`` -> offset)."""
        self._marks: dict[tuple[str, bytes], int] = {}  # keyed as the header gives it: no decoding per record
        for key, offset in (marks or {}).items():
            consumed, _, source = key.partition("|")
            self._marks[consumed, source.encode()] = offset

    def replayed(self, consumed: str, origin: bytes | None) -> bool:
        """True when a record from ``origin`` was applied already (skip it); else remember it, return False."""
        if not origin:
            return False
        source, _, offset_text = origin.rpartition(b":")
        try:
            offset = int(offset_text)
        except ValueError:  # not ours: apply the record, never guess
            return False
        key = (consumed, source)
        last = self._marks.get(key)
        if last is not None and offset <= last:
            return True
        self._marks[key] = offset
        return False

    def to_state(self) -> dict[str, int]:
        return {f"{consumed}|{source.decode(errors='replace')}": o for (consumed, source), o in self._marks.items()}

    @classmethod
    def from_state(cls, state: Any) -> OriginMarks:
        """From :meth:`to_state` output; a missing or malformed state starts empty (applies everything)."""
        if not isinstance(state, dict):
            return cls()
        return cls({str(k): int(v) for k, v in state.items() if isinstance(v, int)})
