"""Delivery workers: claim due outbox records, send them (retry with backoff), record the outcome.

Several threads may run :meth:`DeliveryWorker.run`; the queue's atomic claim makes each record go to
one of them. Redis errors only pause a worker (records stay queued); nothing is dropped.

Once a send's outcome is known (the receiver answered), it is never decided again by sending: if Redis
is away when the outcome is to be stored, the outcome waits in :class:`PendingMarks` and storing it is
retried with a short backoff while the process lives. Meanwhile the workers claim nothing (so that record
is not re-sent when its lease runs out); the late outcome still wins over a re-lease (see
:mod:`mlmon_alerting.notify.queue`). Only a process that dies with outcomes waiting re-sends them,
after the lease, with the same idempotency key.
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
from mlmon_common.errors import RetryableError
from mlmon_common.events import utcnow

logger = logging.getLogger(__name__)

#: How often storing waiting outcomes is retried while Redis is away: 0.1 s doubling up to 2 s, forever.
MARK_BACKOFF = Backoff(initial_s=0.1, factor=2.0, max_s=2.0)


class PendingMarks:
    """Outcomes of sends that Redis did not store yet; :meth:`flush` retries storing them.

    Only transient Redis errors (:class:`RetryableError`) keep an outcome waiting; any other error is a
    bug, logged, and the outcome dropped (the record is then re-sent after its lease). Thread-safe; one
    thread flushes at a time. ``clock`` is monotonic seconds (injected by tests).
    """

    def __init__(self, policy: Backoff = MARK_BACKOFF, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.failures = 0  # consecutive failed tries; the backoff grows with it
        self.deferred = 0  # outcomes that had to wait, ever (a metric)
        self.next_try = 0.0
        self._marks: dict[str, OutboxRecord] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()

    def __len__(self) -> int:
        return len(self._marks)

    def __contains__(self, key: object) -> bool:
        return key in self._marks

    def add(self, outcome: OutboxRecord) -> None:
        """Keep ``outcome`` (one store already failed): the next try waits for the backoff."""
        with self._lock:
            self._marks[outcome.key] = outcome
            self.deferred += 1
            if self.failures == 0:
                self._failed()

    def _failed(self) -> None:
        self.failures += 1
        self.next_try = self.clock() + self.policy.delay(self.failures)

    def wait_s(self) -> float:
        """How long a worker should wait before flushing again (never 0: another thread may be flushing)."""
        return max(0.05, self.next_try - self.clock())

    def flush(self, store: Callable[[OutboxRecord], bool], *, block: bool = False) -> int:
        """Store the waiting outcomes, oldest first, if the backoff allows; returns how many still wait.

        Another thread flushing makes this return at once, unless ``block``.
        """
        if not self._marks or self.clock() < self.next_try or not self._flushing.acquire(blocking=block):
            return len(self._marks)
        try:
            for outcome in list(self._marks.values()):
                if not self._store(store, outcome):
                    break
            else:
                self.failures = 0
        finally:
            self._flushing.release()
        return len(self._marks)

    def _store(self, store: Callable[[OutboxRecord], bool], outcome: OutboxRecord) -> bool:
        """Try to store one outcome; False if Redis is still away (it keeps waiting, the backoff grows)."""
        try:
            stored = store(outcome)
        except RetryableError as exc:
            with self._lock:
                self._failed()
            logger.warning(
                "outcome still not recorded; retrying",
                extra={"key": outcome.key, "waiting": len(self._marks), "error": str(exc)},
            )
            return False
        except Exception:
            logger.exception(
                "outcome cannot be recorded; dropped (re-sent after its lease)",
                extra={"key": outcome.key, "status": outcome.status},
            )
        else:
            logger.info("late outcome recorded", extra={"key": outcome.key, "status": outcome.status, "stored": stored})
        with self._lock:
            self._marks.pop(outcome.key, None)
        return True


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
        marks: PendingMarks | None = None,
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
        self.marks = marks if marks is not None else PendingMarks()
        self.wake = threading.Event()
        self.stop_flag = threading.Event()
        self.last_loop = time.monotonic()
        self._last_prune = 0.0

    def stop(self) -> None:
        self.stop_flag.set()
        self.wake.set()

    def step(self, client: httpx.Client) -> int:
        """Attempt every due record once; returns how many were attempted.

        Claims nothing while outcomes wait in :attr:`marks` (their records must not be sent again).
        """
        now = self.clock()
        done = 0
        for key in self.queue.due(now):
            if self.stop_flag.is_set() or len(self.marks):
                break
            record = self.queue.claim(key, self.clock(), self.lease_s)
            if record is not None and record.key not in self.marks:
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
        self.record(outcome)
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

    def store(self, outcome: OutboxRecord) -> bool:
        """Store ``outcome`` in the queue; False (logged) if a newer outcome is already there."""
        stored = self.queue.complete(outcome, self.clock())
        if not stored:
            logger.warning(
                "outcome not stored: the record was completed or claimed again elsewhere",
                extra={"key": outcome.key, "status": outcome.status},
            )
        return stored

    def record(self, outcome: OutboxRecord) -> None:
        """Store ``outcome``, or keep it in :attr:`marks` if Redis is away (never re-send a known outcome)."""
        try:
            self.store(outcome)
        except RetryableError as exc:
            self.marks.add(outcome)
            logger.warning(
                "outcome not recorded (Redis unavailable); kept and retried",
                extra={"key": outcome.key, "status": outcome.status, "error": str(exc)},
            )

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
                    if self.marks.flush(self.store):
                        self.stop_flag.wait(self.marks.wait_s())
                    elif self.step(client) == 0:
                        self._prune()
                        self.wake.wait(self._idle_wait())
                        self.wake.clear()
                except Exception:  # Redis down or a bug: keep the records, try again shortly
                    logger.exception("delivery loop failed; retrying")
                    self.stop_flag.wait(1.0)
        self._last_flush()

    def _last_flush(self) -> None:
        """On stop: one more try to store waiting outcomes; what is left is re-sent after its lease."""
        self.marks.next_try = 0.0
        if self.marks.flush(self.store, block=True):
            logger.error("stopping with outcomes not recorded; they will be re-sent after the lease",
                         extra={"waiting": len(self.marks)})  # fmt: skip
