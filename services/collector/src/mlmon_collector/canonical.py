"""Raw -> canonical: the handler of the consumer on the raw prediction and label topics.

Per batch: every raw prediction is enriched from the model catalog (``data_quality`` set, same
``event_id``) and published to ``mlmon.predictions.v1``; predictions and labels then go through the
Redis join in one round trip, and each completed pair is published to ``mlmon.outcomes.v1``. When a batch
completed pairs, the handler waits for the broker's acknowledgement before confirming the claims, so an
outcome is never confirmed unsent (a failure raises ``RetryableError`` and the batch is retried; the
claiming records then re-emit the same outcome ids).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mlmon_collector.joiner_store import JoinItem, JoinStore
from mlmon_collector.metrics import Task
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.registry import CLEAN, ModelRegistry
from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.events import LabelEvent, PredictionEvent
from mlmon_common.kafka import EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass
class CanonicalCounters:
    canonical: int = 0
    labels: int = 0
    outcomes: int = 0
    reemitted: int = 0
    duplicates: int = 0
    violations: int = 0
    unregistered: int = 0

    def add(self, other: CanonicalCounters) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def task_lookup(registry: ModelRegistry) -> dict[str, Task]:
    return {e.model_id: e.task for e in registry.entries()}


#: How a canonical prediction's JSON ends when its data quality is clean (``data_quality`` is the last field).
_CLEAN_TAIL = b',"data_quality":' + CLEAN.model_dump_json().encode() + b"}"


def pending_payload(canonical: PredictionEvent, encoded: bytes) -> bytes:
    """What the join stores for a canonical prediction, reusing its encoding when the quality is clean
    (the data-quality block is cut off: an outcome does not need it)."""
    if canonical.data_quality is CLEAN and encoded.endswith(_CLEAN_TAIL):
        return encoded[: -len(_CLEAN_TAIL)] + b"}"
    return JoinStore.payload(canonical)


class CanonicalStage:
    def __init__(
        self,
        catalog: ModelCatalog,
        join: JoinStore,
        producer: EventProducer,
        kafka: KafkaSettings,
        *,
        ack_timeout_s: float = 30.0,
        sweep_interval_s: float = 5.0,
    ) -> None:
        self.catalog = catalog
        self.join = join
        self.producer = producer
        self._canonical_topic = kafka.topic(topics.PREDICTIONS.name)
        self.ack_timeout_s = ack_timeout_s
        self.sweep_interval_s = sweep_interval_s
        self.counters = CanonicalCounters()
        self._last_sweep = 0.0

    def handle(self, items: Sequence[Item]) -> list[Rejected]:
        registry = self.catalog.registry()
        produce, canonical_topic = self.producer.produce, self._canonical_topic
        batch = CanonicalCounters()
        to_join: list[JoinItem] = []
        for event, record in items:
            coords = f"{record.topic}:{record.partition}:{record.offset}"
            if isinstance(event, PredictionEvent):
                canonical = registry.enrich(event)
                encoded = canonical.to_json()
                produce(canonical_topic, encoded, canonical.key)
                to_join.append((canonical, coords, pending_payload(canonical, encoded)))
                quality = canonical.data_quality
                if quality is not CLEAN and quality is not None:
                    batch.violations += quality.violations > 0
                    batch.unregistered += quality.unregistered_model
                batch.canonical += 1
            elif isinstance(event, LabelEvent):
                to_join.append((event, coords))
                batch.labels += 1
        send = self.producer.send
        tasks = task_lookup(registry)
        result = self.join.process(to_join, lambda model_id: tasks.get(model_id, "unknown"))
        for outcome in result.outcomes:
            send(topics.OUTCOMES.name, outcome)
        if result.claimed:
            left = self.producer.flush(self.ack_timeout_s)
            if left or self.producer.take_failures():
                raise RetryableError(f"outcomes not acknowledged by the broker ({left} still queued)")
            self.join.confirm(result.claimed)
        batch.outcomes, batch.reemitted, batch.duplicates = len(result.outcomes), result.reemitted, result.duplicates
        self.counters.add(batch)
        return []

    def sweep_if_due(self, now: float | None = None) -> int:
        """Count pending predictions past their TTL (run from the service's timer)."""
        now = time.monotonic() if now is None else now
        if now - self._last_sweep < self.sweep_interval_s:
            return 0
        self._last_sweep = now
        expired = self.join.sweep()
        if expired:
            logger.info("pending predictions expired unlabelled", extra={"expired": expired})
        return expired
