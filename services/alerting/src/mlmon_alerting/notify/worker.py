"""Delivery workers: claim due outbox records, send them (retry with backoff), record the outcome.

Several threads may run :meth:`DeliveryWorker.run`; the queue's atomic claim makes each record go to
one of them. Redis errors only pause a worker (records stay queued); nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from mlmon_alerting.config import AlertingConfig
from mlmon_alerting.notify.outbox import Backoff, OutboxRecord
from mlmon_alerting.notify.queue import OutboxQueue
from mlmon_alerting.notify.send import SmtpFactory, attempt
from mlmon_common.events import utcnow

logger = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        queue: OutboxQueue,
        config: AlertingConfig,
        *,
        backoff: Backoff,
        lease_s: float = 30.0,
        poll_s: float = 0.1,
        retention_s: float = 7 * 24 * 3600.0,
        clock: Callable[[], datetime] = utcnow,
        smtp_factory: SmtpFactory | None = None,
        on_delivered: Callable[[OutboxRecord], None] | None = None,
    ) -> None:
        self.queue = queue
        self.config = config
        self.receivers = {r.name: r for r in config.receivers}
        self.backoff = backoff
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.retention_s = retention_s
        self.clock = clock
        self.smtp_factory = smtp_factory
        self.on_delivered = on_delivered
        self.wake = threading.Event()
        self.stop_flag = threading.Event()
        self.last_loop = time.monotonic()
        self._last_prune = 0.0

    def stop(self) -> None:
        self.stop_flag.set()
        self.wake.set()

    def step(self, client: httpx.Client) -> int:
        """Attempt every due record once; returns how many were attempted."""
        now = self.clock()
        done = 0
        for key in self.queue.due(now):
            if self.stop_flag.is_set():
                break
            record = self.queue.claim(key, self.clock(), self.lease_s)
            if record is not None:
                self.process(record, client)
                done += 1
        return done

    def process(self, record: OutboxRecord, client: httpx.Client) -> OutboxRecord:
        receiver = self.receivers.get(record.receiver)
        now = self.clock()
        if record.status != "pending":
            outcome = record
        elif receiver is None:
            outcome = record.failed_attempt(
                f"receiver {record.receiver!r} is not in the config any more", now, recoverable=False,
                policy=self.backoff,
            )  # fmt: skip
        else:
            outcome = attempt(record, receiver, now, client, self.backoff, self.smtp_factory)
        self.queue.complete(outcome, self.clock())
        if outcome.status == "delivered":
            logger.info(
                "notification delivered",
                extra={"key": record.key, "receiver": record.receiver, "integration": record.integration},
            )
            if self.on_delivered is not None:
                self.on_delivered(outcome)
        elif outcome.status == "failed":
            logger.error(
                "notification given up",
                extra={"key": record.key, "receiver": record.receiver, "error": outcome.last_error},
            )
        return outcome

    def _idle_wait(self) -> float:
        nxt = self.queue.next_due()
        if nxt is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, nxt - self.clock().timestamp()))

    def _prune(self) -> None:
        if time.monotonic() - self._last_prune < 60:
            return
        self._last_prune = time.monotonic()
        self.queue.prune(self.clock() - timedelta(seconds=self.retention_s))

    def run(self) -> None:
        with httpx.Client() as client:
            while not self.stop_flag.is_set():
                self.last_loop = time.monotonic()
                try:
                    if self.step(client) == 0:
                        self._prune()
                        self.wake.wait(self._idle_wait())
                        self.wake.clear()
                except Exception:  # Redis down or a bug: keep the records, try again shortly
                    logger.exception("delivery loop failed; retrying")
                    self.stop_flag.wait(1.0)
