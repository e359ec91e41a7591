"""Logging librdkafka's client errors without flooding: in an outage it repeats them many times a second.

>>> import logging
>>> log = ClientErrorLog(logging.getLogger("doctest"), interval_s=10.0, clock=iter([0.0, 1.0, 2.0, 12.0]).__next__)
>>> [log(KafkaError(KafkaError._TRANSPORT)) for _ in range(4)]
[True, False, False, True]
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from confluent_kafka import KafkaError


class ClientErrorLog:
    """Logs a client error at WARNING at most once per ``interval_s`` per error code, with how many of that
    code were not logged since."""

    def __init__(
        self, logger: logging.Logger, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._seen: dict[int, tuple[float, int]] = {}  # error code -> (last logged, repeats not logged)

    def __call__(self, err: KafkaError) -> bool:
        """Log ``err`` unless its code was logged within the interval; True if it was logged."""
        now = self._clock()
        last, suppressed = self._seen.get(err.code(), (-math.inf, 0))
        if now - last < self.interval_s:
            self._seen[err.code()] = (last, suppressed + 1)
            return False
        self._seen[err.code()] = (now, 0)
        self.logger.warning("kafka client error", extra={"error": str(err), "suppressed_since_last": suppressed})
        return True
