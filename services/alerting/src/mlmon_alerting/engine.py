"""The stateful shell around the pure :class:`AlertingCore`: Redis persistence, Kafka output, timers.

Every step runs under one lock and ends with one Redis transaction (:meth:`AlertStore.commit`):

- :meth:`handle_batch` (consumer thread): skip event ids already consumed, evaluate the rest, flush the
  groups that became due (``group_wait: 0`` notifies in the same step), then commit states, groups,
  digests, the consumed ids, the alert events and the outbox records together. Only then are the alert
  events produced and flushed; the runner stores the batch's offsets after the handler returns, so the
  outbox is durable before the offsets move. A crash before the commit replays the batch; after it, the
  ids are known and the replay adds nothing.
- :meth:`tick` (dispatcher thread, at the next group/digest timer or every ``tick_max_s``): resolve
  stale alerts (from ``resolve_timeout`` after the start on), flush due groups and digests, commit, publish.
- :meth:`acknowledge` and the silence methods (HTTP): the same, for one command.
Alert events wait in Redis (``events``) until the broker acknowledged them, so a crash between the
commit and the produce re-publishes them (same deterministic ids) instead of losing them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from mlmon_alerting.config import AlertingConfig
from mlmon_alerting.grouping import Notification
from mlmon_alerting.lifecycle import State
from mlmon_alerting.notify.outbox import OutboxRecord
from mlmon_alerting.notify.render import to_outbox
from mlmon_alerting.pipeline import AlertingCore
from mlmon_alerting.silences import Silence, silenced_by
from mlmon_alerting.store import AlertStore
from mlmon_alerting.stream import AlertHub
from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.events import AlertEvent, DriftEvent, MetricsEvent, ResourceEvent, utcnow
from mlmon_common.kafka import EventProducer, Item, Rejected

logger = logging.getLogger(__name__)
RULE_INPUTS = (MetricsEvent, DriftEvent, ResourceEvent)


class AlertingEngine:
    def __init__(
        self,
        config: AlertingConfig,
        store: AlertStore,
        producer: EventProducer,
        hub: AlertHub | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        external_url: str = "",
        tick_max_s: float = 1.0,
        resolved_retention_s: float = 7 * 24 * 3600.0,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.producer = producer
        self.hub = hub or AlertHub()
        self.clock = clock
        self.external_url = external_url
        self.tick_max_s = tick_max_s
        self.resolved_retention_s = resolved_retention_s
        self._last_forget = 0.0
        self.started_at: datetime | None = None
        self.on_outbox = on_outbox
        self.lock = threading.RLock()
        self.core = AlertingCore(config)
        self._committed_states: dict[str, State] = {}
        self._stale = True
        self._backlog = True
        self.wakeup = threading.Event()

    # -- state -----------------------------------------------------------------------------------------

    def load(self) -> None:
        """(Re)build the in-memory core from Redis (at start, and after a failed step)."""
        with self.lock:
            data = self.store.load()
            self.core = AlertingCore(self.config, data["states"], data["groups"], data["books"])
            self.core.set_silences(self.store.silences())
            self._committed_states = dict(self.core.states)
            self._stale = False
            if self.started_at is None:
                self.started_at = self.clock()

    def _ensure_loaded(self) -> None:
        if self._stale:
            self.load()

    @contextmanager
    def _step(self) -> Iterator[datetime]:
        """One locked step on a loaded core; any failure marks memory as possibly ahead of Redis."""
        with self.lock:
            self._ensure_loaded()
            try:
                yield self.clock()
            except BaseException:
                self._stale = True
                raise

    def _changes(self) -> dict[str, dict[str, Any]]:
        """What changed since the last commit. Alert states are copy-on-write in the core (a changed
        state is a new dict), so identity tells; groups and books report their dirty keys."""
        core = self.core
        states: dict[str, Any] = {k: v for k, v in core.states.items() if self._committed_states.get(k) is not v}
        states.update({k: None for k in self._committed_states.keys() - core.states.keys()})
        groups = {k: core.dispatcher.groups.get(k) for k in core.dispatcher.dirty}
        books = {k: core.digests.books.get(k) for k in core.digests.dirty}
        return {"states": states, "groups": groups, "books": books}

    def _commit(
        self, now: datetime, events: Sequence[AlertEvent], notes: Sequence[Notification], seen: Sequence[str] = ()
    ) -> list[OutboxRecord]:
        records = [r for n in notes for r in self._records(n, now)]
        try:
            self.store.commit(self._changes(), seen=seen, events=events, records=records)
        except BaseException:
            self._stale = True  # memory is ahead of Redis: reload before the next step
            raise
        self._committed_states = dict(self.core.states)
        self.core.dispatcher.dirty.clear()
        self.core.digests.dirty.clear()
        if records and self.on_outbox is not None:
            self.on_outbox()
        return records

    def _records(self, note: Notification, now: datetime) -> list[OutboxRecord]:
        receiver = next((r for r in self.config.receivers if r.name == note.receiver), None)
        if receiver is None:
            logger.error("notification for unknown receiver dropped", extra={"receiver": note.receiver})
            return []
        return to_outbox(note, receiver, now, self.external_url)

    def _publish(self, events: Sequence[AlertEvent], timeout_s: float = 10.0) -> None:
        """Produce the events (and any left from a failed step), wait for the broker, then forget them."""
        if self._backlog:
            pending = self.store.unpublished()
            known = {e.event_id for e in pending}
            events = [*pending, *(e for e in events if e.event_id not in known)]
            self._backlog = False
        if not events:
            return
        self.producer.take_failures()
        for event in events:
            self.producer.send(topics.ALERTS.name, event)
        left = self.producer.flush(timeout_s)
        failures = self.producer.take_failures()
        if left or failures:
            self._backlog = True
            raise RetryableError(f"alert events not acknowledged by the broker ({left} queued, {len(failures)} failed)")
        self.store.published([e.event_id for e in events])
        self.hub.publish(events)

    # -- steps -----------------------------------------------------------------------------------------

    def handle_batch(self, items: Sequence[Item]) -> list[Rejected]:
        """The consumer's handler (see the module docstring)."""
        rejected: list[Rejected] = []
        with self._step() as now:
            ids = [e.event_id for e, _ in items]
            fresh = self.store.unseen(ids)
            out: list[AlertEvent] = []
            seen: set[str] = set()
            for (event, record), is_new in zip(items, fresh, strict=True):
                if not is_new or event.event_id in seen:
                    continue
                seen.add(event.event_id)
                if not isinstance(event, RULE_INPUTS):
                    continue
                try:
                    out.extend(self.core.handle(event, now))
                except Exception as exc:  # a bug on one event must not stop the partition
                    logger.exception("event not handled", extra={"event_id": event.event_id})
                    rejected.append(Rejected(record, f"alerting error: {exc}", type(exc).__name__))
            notes = self.core.tick(now) if out else []
            self._commit(now, out, notes, sorted(seen))
            self._publish(out)
        if out:  # new groups may have timers earlier than the dispatcher's current sleep
            self.wakeup.set()
        return rejected

    def tick(self) -> list[Notification]:
        """Resolve stale alerts, flush due groups and digests; returns the notifications queued."""
        with self._step() as now:
            events = self.core.expire(now) if self._expiry_armed(now) else []
            notes = self.core.tick(now)
            self._forget_resolved(now)
            self._commit(now, events, notes)
            self._publish(events)
        return notes

    def _expiry_armed(self, now: datetime) -> bool:
        """After a start, stale alerts expire only once ``resolve_timeout`` passed: the consumer first
        catches up on what was produced while the service was down (else every alert would resolve and
        re-fire on the backlog)."""
        started = self.started_at or now
        return (now - started).total_seconds() >= self.config.resolve_timeout

    def _forget_resolved(self, now: datetime) -> None:
        """Drop alerts resolved more than ``resolved_retention_s`` ago (they are on the topic for good)."""
        if now.timestamp() - self._last_forget < 60:
            return
        self._last_forget = now.timestamp()
        cutoff = (now - timedelta(seconds=self.resolved_retention_s)).isoformat()
        states = self.core.states
        for fp in [fp for fp, s in states.items() if s["status"] == "resolved" and (s["ends_at"] or "") < cutoff]:
            del states[fp]

    def next_wait(self) -> float:
        """Seconds until the next group/digest timer, at most ``tick_max_s``."""
        with self.lock:
            now = self.clock()
            limit = now + timedelta(seconds=self.tick_max_s)
            core = self.core
            times = [t for t in (core.dispatcher.next_wakeup(), core.digests.next_wakeup()) if t is not None]
        return max(0.0, (min([limit, *times]) - now).total_seconds())

    def run_timer(self, stop: threading.Event) -> None:
        """The dispatcher thread: :meth:`tick` whenever a timer may have passed."""
        while not stop.is_set():
            wait = self.tick_max_s
            try:
                self.tick()
                wait = self.next_wait()
            except Exception:  # Redis or broker down: state is reloaded, the next tick tries again
                logger.exception("dispatcher tick failed")
                stop.wait(1.0)
            self.wakeup.wait(wait)
            self.wakeup.clear()

    # -- commands (HTTP, CLI) ----------------------------------------------------------------------------

    def acknowledge(self, fingerprint: str, by: str) -> State:
        """``KeyError``: unknown alert; ``ValueError``: not pending/firing (or empty ``by``)."""
        with self._step() as now:
            if fingerprint not in self.core.states:
                raise KeyError(fingerprint)
            change = self.core.acknowledge(fingerprint, by, now)
            events = [change] if change is not None else []
            self._commit(now, events, [])
            try:
                self._publish(events, timeout_s=2.0)
            except RetryableError as exc:  # saved in Redis; published by the next step
                logger.warning("acknowledgement saved, its event not yet published: %s", exc)
            return dict(self.core.states[fingerprint])

    def alerts(self) -> list[State]:
        with self.lock:
            self._ensure_loaded()
            now = self.clock()
            out = []
            for state in self.core.states.values():
                s = dict(state)
                s["silenced_by"] = silenced_by(state["labels"], self.core.silences, now)
                out.append(s)
        return sorted(out, key=lambda s: (s["severity"], s["alertname"], s["fingerprint"]))

    def silences(self) -> list[Silence]:
        with self.lock:
            self._ensure_loaded()
            return list(self.core.silences)

    def put_silence(self, silence: Silence) -> Silence:
        with self.lock:
            self._ensure_loaded()
            self.store.put_silence(silence)
            others = [s for s in self.core.silences if s.id != silence.id]
            self.core.set_silences([*others, silence])
        self.wakeup.set()
        return silence

    def expire_silence(self, silence_id: str) -> Silence:
        """End a silence now; ``KeyError`` if unknown."""
        with self.lock:
            self._ensure_loaded()
            found = next((s for s in self.core.silences if s.id == silence_id), None)
            if found is None:
                raise KeyError(silence_id)
            return self.put_silence(found.expire(self.clock()))
