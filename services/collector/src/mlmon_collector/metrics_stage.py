"""Windowed metrics: the handler of the consumer (group ``<prefix>-collector-metrics``) on canonical
predictions and outcomes, publishing :class:`MetricsEvent`s to ``mlmon.metrics.v1``.

State is kept per partition number: both input topics are keyed by ``model_id`` with the same partition
count, so one model's predictions and outcomes share a partition number and the eager range assignor
gives both to the same process. Each partition's :class:`MetricsWindows` is checkpointed to Redis after
every batch that touched it, in the same JSON document (one ``SET``, all partitions of a batch in one
``MULTI``) as the last applied offset of each input topic-partition. On a restart or a rebalance the state
is reloaded and records at or below the checkpointed offsets are skipped, so a replay never counts twice.
The raw -> canonical stage's own replay (after it was killed) republishes copies of canonical records; the
``mlmon.origin`` marks (:class:`mlmon_common.kafka.OriginMarks`), kept in the same document, skip those.

Metrics events are acknowledged by the broker before the checkpoint that marks them emitted is written;
when that fails the touched partitions are reloaded from their last checkpoint and the batch is retried
(the re-emission carries the same deterministic ids). A timer calls :meth:`MetricsStage.tick` to close
windows of quiet models on the wall-clock watermark.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from mlmon_collector.config import CollectorConfig
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.watermark import Watermark
from mlmon_collector.windows import MetricsWindows
from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.events import MetricsEvent, OutcomeEvent, PredictionEvent, utcnow
from mlmon_common.kafka import EventProducer, Item, OriginMarks, Rejected
from mlmon_common.store import TRANSIENT, retryable

logger = logging.getLogger(__name__)
CHECKPOINT_VERSION = 1


@dataclass
class PartitionState:
    windows: MetricsWindows
    watermark: Watermark
    offsets: dict[str, int] = field(default_factory=dict)
    origins: OriginMarks = field(default_factory=OriginMarks)


@dataclass
class MetricsCounters:
    applied: int = 0
    skipped_replayed: int = 0
    skipped_upstream_copies: int = 0
    emitted: int = 0
    checkpoints: int = 0


class MetricsStage:
    def __init__(
        self,
        client: redis.Redis,
        key_prefix: str,
        config: CollectorConfig,
        catalog: ModelCatalog,
        producer: EventProducer,
        *,
        max_out_of_order_s: float = 5.0,
        idle_s: float | None = 60.0,
        clock: Callable[[], datetime] = utcnow,
        ack_timeout_s: float = 30.0,
    ) -> None:
        self._r = client
        self.key_base = f"{key_prefix}collector:metrics:"
        self.config = config
        self.catalog = catalog
        self.producer = producer
        self.max_out_of_order_s = max_out_of_order_s
        self.idle_s = idle_s
        self._clock = clock
        self.ack_timeout_s = ack_timeout_s
        self.counters = MetricsCounters()
        self._parts: dict[int, PartitionState] = {}
        self._assigned: set[int] = set()
        self._lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        c = self.config
        return {
            "window_s": c.window_s,
            "allowed_lateness_s": c.allowed_lateness_s,
            "max_windows_per_model": c.max_windows_per_model,
            "latency_sample_cap": c.latency_sample_cap,
            "registry": self.catalog.registry(),
        }

    def _key(self, partition: int) -> str:
        return f"{self.key_base}{partition}"

    @retryable
    def _load(self, partition: int) -> PartitionState:
        raw = self._r.get(self._key(partition))
        watermark = Watermark(max_out_of_order_s=self.max_out_of_order_s, idle_s=self.idle_s, clock=self._clock)
        if raw is None:
            return PartitionState(MetricsWindows(**self._params()), watermark)
        try:
            doc = json.loads(raw)
            if doc.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"unsupported checkpoint version {doc.get('version')!r}")
            windows = MetricsWindows.from_state(doc["windows"], **self._params())
            offsets = {str(t): int(o) for t, o in doc["offsets"].items()}
            origins = OriginMarks.from_state(doc.get("origins"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # never crash the loop on bad state
            logger.error(
                "unreadable metrics checkpoint; starting empty", extra={"key": self._key(partition), "error": str(exc)}
            )
            return PartitionState(MetricsWindows(**self._params()), watermark)
        logger.info("metrics state restored", extra={"partition": partition, "offsets": offsets})
        return PartitionState(windows, watermark, offsets, origins)

    def _part(self, partition: int) -> PartitionState:
        state = self._parts.get(partition)
        if state is None:
            state = self._parts[partition] = self._load(partition)
        return state

    @retryable
    def _checkpoint(self, partitions: Sequence[int]) -> None:
        pipe = self._r.pipeline(transaction=True)
        for p in partitions:
            state = self._parts[p]
            doc = {
                "version": CHECKPOINT_VERSION,
                "offsets": state.offsets,
                "origins": state.origins.to_state(),
                "windows": state.windows.to_state(),
            }
            pipe.set(self._key(p), json.dumps(doc, separators=(",", ":")))
        pipe.execute()
        self.counters.checkpoints += 1

    def on_assign(self, assignment: list[tuple[str, int]]) -> None:
        """A rebalance: forget in-memory state (another process may have advanced it); reload lazily."""
        with self._lock:
            self._parts.clear()
            self._assigned = {p for _, p in assignment}

    # -- batches -------------------------------------------------------------------------------------
    def handle(self, items: Sequence[Item]) -> list[Rejected]:
        with self._lock:
            touched: set[int] = set()
            try:
                rejected = self._apply(items, touched)
                self._close_and_save(sorted(touched))
            except Exception:
                for p in touched:  # back to the last checkpoint: the retry must not count twice
                    self._parts.pop(p, None)
                raise
            return rejected

    def _apply(self, items: Sequence[Item], touched: set[int]) -> list[Rejected]:
        rejected: list[Rejected] = []
        registry = self.catalog.registry()
        for event, record in items:
            state = self._part(record.partition)
            if record.offset <= state.offsets.get(record.topic, -1):
                self.counters.skipped_replayed += 1
                continue
            state.offsets[record.topic] = record.offset
            touched.add(record.partition)
            if state.origins.replayed(record.topic, record.origin):
                self.counters.skipped_upstream_copies += 1
                continue
            state.windows.registry = registry
            try:
                if isinstance(event, PredictionEvent):
                    state.windows.add_prediction(event)
                    state.watermark.observe(event.occurred_at)
                elif isinstance(event, OutcomeEvent):
                    state.windows.add_outcome(event)
            except ValueError as exc:
                rejected.append(Rejected(record, f"metrics: {exc}", type(exc).__name__))
                continue
            self.counters.applied += 1
        return rejected

    def _close_and_save(self, partitions: Sequence[int]) -> None:
        events: list[MetricsEvent] = []
        for p in partitions:
            state = self._parts[p]
            wm = state.watermark.current()
            if wm is not None:
                events += state.windows.close_due(wm)
        if events:
            self._publish(events)
        if partitions:
            self._checkpoint(partitions)

    def _publish(self, events: list[MetricsEvent]) -> None:
        for ev in events:
            self.producer.send(topics.METRICS.name, ev)
        left = self.producer.flush(self.ack_timeout_s)
        if left or self.producer.take_failures():
            raise RetryableError(f"metrics events not acknowledged by the broker ({left} still queued)")
        self.counters.emitted += len(events)

    def tick(self) -> int:
        """Apply the wall-clock watermark to every assigned partition; returns how many events it emitted."""
        with self._lock:
            due: list[int] = []
            events: list[MetricsEvent] = []
            try:
                for p in sorted(self._assigned):
                    state = self._part(p)
                    wm = state.watermark.current()
                    closed = state.windows.close_due(wm) if wm is not None else []
                    if closed:
                        due.append(p)
                        events += closed
                if events:
                    self._publish(events)
                    self._checkpoint(due)
            except (RetryableError, *TRANSIENT) as exc:
                logger.warning("metrics tick failed; will retry", extra={"error": str(exc)})
                for p in due:
                    self._parts.pop(p, None)
                return 0
            return len(events)

    def dropped_late(self) -> int:
        with self._lock:
            return sum(s.windows.dropped_late for s in self._parts.values())

    def open_windows(self) -> int:
        with self._lock:
            return sum(s.windows.open_windows() for s in self._parts.values())
