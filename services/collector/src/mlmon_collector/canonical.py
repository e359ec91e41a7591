"""Raw -> canonical: the decoder and the handler of the consumer on the raw prediction and label topics.

Per batch: predictions and labels are sent to the Redis join (one round trip, whose reply is read only
after the rest of the batch is done, so Redis works while this process does); every raw prediction is
checked against the model catalog and published to ``mlmon.predictions.v1`` with ``data_quality`` set
(same ``event_id``); then each pair the join completed is published to ``mlmon.outcomes.v1``. When a batch
completed pairs, the handler waits for the broker's acknowledgement before confirming the claims, so an
outcome is never confirmed unsent (a failure raises ``RetryableError`` and the batch is retried; the
claiming records then re-emit the same outcome ids).

What the canonical record is (:func:`decode_raw`): a raw prediction that validates in *strict* mode — no
unknown field, no coerced value (every value already has its schema type), ``event_type``, ``event_id`` and
``occurred_at`` given, ``data_quality`` absent or a trailing ``"data_quality":null``, at most
``MAX_SPLICED_BYTES`` — is published as its
own bytes with ``"data_quality":{...}`` spliced in at the end: it decodes to exactly the event a
re-encoding would give (only the producer's key order, whitespace and number/date spelling are kept). Any
other valid raw prediction is decoded leniently and re-encoded from the model, as before.

>>> raw = b'{"event_id":"e1","occurred_at":"2026-11-27T00:00:00Z","model_id":"m","event_type":"prediction",'
>>> raw += b'"prediction_id":"p"}'
>>> fast = decode_raw(raw)
>>> fast.canonical(CLEAN).endswith(b'"prediction_id":"p","data_quality":' + CLEAN.model_dump_json().encode() + b"}")
True
>>> type(decode_raw(raw.replace(b'"p"}', b'"p","extra":1}'))).__name__  # unknown field: re-encoded
'PredictionEvent'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ConfigDict, ValidationError

from mlmon_collector.joiner_store import JoinItem, JoinStore
from mlmon_collector.metrics import Task
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.registry import CLEAN, UNREGISTERED, ModelRegistry
from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.events import DataQuality, Event, LabelEvent, PredictionEvent, decode_event
from mlmon_common.kafka import EventProducer, Item, Record, Rejected
from mlmon_common.settings import KafkaSettings
from mlmon_common.topics import ORIGIN

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
_UNREGISTERED_TAIL = b',"data_quality":' + UNREGISTERED.model_dump_json().encode() + b"}"
#: How a raw prediction encoded by pydantic (SDK, HTTP ingest) ends.
_NULL_TAIL = b',"data_quality":null}'
#: Raw predictions larger than this are re-encoded (the pending copy then keeps only what an outcome needs).
MAX_SPLICED_BYTES = 2048


def quality_tail(quality: DataQuality) -> bytes:
    """``,"data_quality":{...}}``: what ends a canonical prediction."""
    if quality is CLEAN:
        return _CLEAN_TAIL
    if quality is UNREGISTERED:
        return _UNREGISTERED_TAIL
    return b',"data_quality":' + quality.model_dump_json().encode() + b"}"


class RawPrediction:
    """A raw prediction whose canonical record is its own bytes with ``data_quality`` spliced in.

    ``head`` is the raw JSON object without its closing brace (and without a trailing ``"data_quality":null``).
    """

    __slots__ = ("event", "head")
    event_type = "prediction"

    def __init__(self, event: PredictionEvent, head: bytes) -> None:
        self.event = event
        self.head = head

    def canonical(self, quality: DataQuality) -> bytes:
        return self.head + quality_tail(quality)

    def pending(self) -> bytes:
        """What the join stores: the raw prediction without ``data_quality`` (an outcome does not need it)."""
        return self.head + b"}"


def _head(raw: bytes, event: PredictionEvent) -> bytes | None:
    given = event.model_fields_set
    if "event_type" not in given:
        return None  # the contract's decoder needs the discriminator (it rejects the record)
    if "event_id" not in given or "occurred_at" not in given or len(raw) > MAX_SPLICED_BYTES:
        return None  # a default would be drawn anew by every reader: re-encode with the drawn values
    body = raw.rstrip()
    if "data_quality" in given:
        if event.data_quality is not None or not body.endswith(_NULL_TAIL):
            return None
        return body[: -len(_NULL_TAIL)]
    return body[:-1] if body.endswith(b"}") else None


class _StrictPrediction(PredictionEvent):
    """The prediction contract without coercion or unknown fields (compiled into the validator: cheaper than
    ``model_validate_json(strict=True, extra="forbid")`` per call). Only ever inside a :class:`RawPrediction`."""

    model_config = ConfigDict(strict=True, extra="forbid")


def decode_raw(raw: bytes) -> Event | RawPrediction:
    """The raw topics' decoder: a :class:`RawPrediction` when the bytes can be kept (see the module doc),
    else the event contract's decoder (``ValidationError`` -> the runner dead-letters the record)."""
    try:
        event = _StrictPrediction.model_validate_json(raw)
    except ValidationError:
        return decode_event(raw)
    head = _head(raw, event)
    return decode_event(raw) if head is None else RawPrediction(event, head)


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

    def handle(self, items: Sequence[Item] | Sequence[tuple[Event | RawPrediction, Record]]) -> list[Rejected]:
        registry = self.catalog.registry()
        batch = CanonicalCounters()
        to_join: list[JoinItem] = []
        publish: list[tuple[RawPrediction | tuple[bytes, PredictionEvent], str]] = []  # (item, coords), in order
        for event, record in items:  # first what the join needs, so Redis works while the batch is published
            coords = f"{record.topic}:{record.partition}:{record.offset}"
            if type(event) is RawPrediction:
                publish.append((event, coords))
                to_join.append((event.event, coords, event.pending()))
            elif isinstance(event, PredictionEvent):
                canonical = registry.enrich(event)
                encoded = canonical.to_json()
                publish.append(((encoded, canonical), coords))
                to_join.append((canonical, coords, pending_payload(canonical, encoded)))
            elif isinstance(event, LabelEvent):
                to_join.append((event, coords))
                batch.labels += 1
        joining = self.join.submit(to_join)
        try:
            self._publish(registry, publish, batch)
            tasks = task_lookup(registry)
            result = joining.result(lambda model_id: tasks.get(model_id, "unknown"))
        finally:
            joining.close()
        send = self.producer.send
        for outcome, coords in zip(result.outcomes, result.origins, strict=True):
            send(topics.OUTCOMES.name, outcome, [(ORIGIN, coords.encode())])
        if result.claimed:
            left = self.producer.flush(self.ack_timeout_s)
            if left or self.producer.take_failures():
                raise RetryableError(f"outcomes not acknowledged by the broker ({left} still queued)")
            self.join.confirm(result.claimed)
        batch.outcomes, batch.reemitted, batch.duplicates = len(result.outcomes), result.reemitted, result.duplicates
        self.counters.add(batch)
        return []

    def _publish(
        self,
        registry: ModelRegistry,
        publish: list[tuple[RawPrediction | tuple[bytes, PredictionEvent], str]],
        batch: CanonicalCounters,
    ) -> None:
        """Each canonical prediction carries the ``mlmon.origin`` header (its raw record's coordinates), so
        consumers skip the copies a replay of this stage publishes (:class:`mlmon_common.kafka.OriginMarks`)."""
        produce, topic, check = self.producer.produce, self._canonical_topic, registry.check
        for item, coords in publish:
            origin = [(ORIGIN, coords.encode())]
            if type(item) is RawPrediction:
                prediction = item.event
                quality = check(prediction)
                produce(topic, item.head + quality_tail(quality), prediction.model_id.encode(), origin)
            else:
                encoded, canonical = item  # type: ignore[misc]
                produce(topic, encoded, canonical.key, origin)
                quality = canonical.data_quality
            if quality is not CLEAN:
                batch.violations += quality.violations > 0
                batch.unregistered += quality.unregistered_model
        batch.canonical += len(publish)

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
