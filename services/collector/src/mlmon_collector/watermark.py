"""An event-time watermark for :meth:`MetricsWindows.close_due`.

The watermark is the latest event time seen minus a bound on out-of-orderness, so an event at most
``max_out_of_order_s`` behind the newest one still lands in an open window. With ``idle_s`` set, the
watermark also follows the wall clock (``now - idle_s``): windows of a model that stopped sending
still close. It never moves back.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> wm = Watermark(max_out_of_order_s=5, clock=lambda: t0)
>>> wm.observe(t0 + timedelta(seconds=65))
>>> wm.current() == t0 + timedelta(seconds=60)
True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from mlmon_common.events import utcnow


class Watermark:
    def __init__(
        self,
        *,
        max_out_of_order_s: float = 5.0,
        idle_s: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if max_out_of_order_s < 0:
            raise ValueError(f"max_out_of_order_s must be >= 0, got {max_out_of_order_s}")
        if idle_s is not None and idle_s < 0:
            raise ValueError(f"idle_s must be >= 0, got {idle_s}")
        self.max_out_of_order = timedelta(seconds=max_out_of_order_s)
        self.idle = None if idle_s is None else timedelta(seconds=idle_s)
        self._clock = clock
        self._max_seen: datetime | None = None
        self._current: datetime | None = None

    def observe(self, event_time: datetime) -> None:
        """Note one event's time (any order)."""
        if self._max_seen is None or event_time > self._max_seen:
            self._max_seen = event_time

    def current(self) -> datetime | None:
        """The watermark now; None until an event was seen (and no idle rule applies)."""
        candidates = []
        if self._max_seen is not None:
            candidates.append(self._max_seen - self.max_out_of_order)
        if self.idle is not None:
            candidates.append(self._clock() - self.idle)
        if self._current is not None:
            candidates.append(self._current)
        self._current = max(candidates) if candidates else None
        return self._current
