"""Periodic jobs on one background thread (rollups, forecasts, scheduled reports, pruning).

Each job runs every ``interval_s`` (first run one interval after start); a failing job is logged and
retried at its next tick; :meth:`Timers.stop` wakes the thread at once. Liveness fails if the thread died.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    interval_s: float
    fn: Callable[[], object]
    due: float = 0.0
    runs: int = 0
    failures: int = 0
    last_error: str | None = field(default=None)


class Timers:
    def __init__(self, name: str = "reporting-timers") -> None:
        self.name = name
        self.jobs: list[Job] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def every(self, interval_s: float, name: str, fn: Callable[[], object]) -> Job:
        job = Job(name, interval_s, fn)
        self.jobs.append(job)
        return job

    def start(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            job.due = now + job.interval_s
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def alive(self) -> tuple[bool, str]:
        if self._thread is None or self._stop.is_set() or self._thread.is_alive():
            return True, "ok"
        return False, "timer thread exited"

    def run_now(self, name: str) -> object:
        """Run one job in the caller's thread (tests, CLI)."""
        job = next(j for j in self.jobs if j.name == name)
        return job.fn()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self.jobs:
                if self._stop.is_set() or now < job.due:
                    continue
                job.due = now + job.interval_s
                try:
                    job.fn()
                    job.runs += 1
                except Exception as exc:
                    job.failures += 1
                    job.last_error = f"{type(exc).__name__}: {exc}"
                    logger.exception("timer job failed", extra={"job": job.name})
            next_due = min((j.due for j in self.jobs), default=time.monotonic() + 1.0)
            self._stop.wait(max(0.05, min(1.0, next_due - time.monotonic())))
