"""``DriftWorker``: the per-process drift state behind the faust agents (no faust import here).

Records in (bytes + partition/offset), ``DriftEvent``s out. It keeps one :class:`ModelMonitor` per model of the
partitions this worker owns, restores it from its Redis checkpoint the first time a model shows up, skips records
the checkpoint already covers (a replay after ``kill -9`` applies each record once), publishes each transition
once per (model, kind, feature) (the last published state is kept in Redis, event ids are deterministic) and
applies uploaded references and reset requests.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from mlmon_common import topics
from mlmon_common.events import DriftEvent, OutcomeEvent, PredictionEvent, utcnow
from mlmon_common.kafka import MAX_EVENT_BYTES, EventProducer, OriginMarks, summarise
from mlmon_common.settings import KafkaSettings
from mlmon_drift.config import DriftSection
from mlmon_drift.metrics import DriftMetrics
from mlmon_drift.monitor import ModelMonitor
from mlmon_drift.store import DriftStore

logger = logging.getLogger(__name__)
#: Namespace of the deterministic DriftEvent ids (a replayed transition gets the same id).
EVENT_NAMESPACE = uuid.UUID("7d3c2b1e-6f0a-4c5e-9a43-3b2f1d0c9e51")
PREDICTIONS, OUTCOMES = "predictions", "outcomes"
_MODELS: dict[str, type[BaseModel]] = {PREDICTIONS: PredictionEvent, OUTCOMES: OutcomeEvent}


class RejectedRecordError(Exception):
    """A record that can never be handled: it goes to the dead-letter topic."""

    def __init__(self, reason: str, error_class: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class


def decode(kind: str, value: bytes | None) -> PredictionEvent | OutcomeEvent:
    """Validate one record of the ``predictions`` or ``outcomes`` topic, or raise ``RejectedRecordError``."""
    if value is None:
        raise RejectedRecordError("empty record value", "EmptyValue")
    if len(value) > MAX_EVENT_BYTES:
        raise RejectedRecordError(
            f"record of {len(value)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit", "PayloadTooLarge"
        )
    try:
        return _MODELS[kind].model_validate_json(value)  # type: ignore[return-value]
    except ValidationError as exc:
        raise RejectedRecordError(summarise(exc), "ValidationError") from None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass
class Tracked:
    """A monitor with the source position it has applied (topic kind -> [partition, offset]) and the
    ``mlmon.origin`` marks that skip copies a replay of the collector republished."""

    monitor: ModelMonitor
    partition: int
    offsets: dict[str, list[int]] = field(default_factory=dict)
    origins: OriginMarks = field(default_factory=OriginMarks)
    dirty: bool = False
    unsaved_reference: bool = False

    def covers(self, kind: str, partition: int, offset: int) -> bool:
        last = self.offsets.get(kind)
        return last is not None and last[0] == partition and offset <= last[1]


class DriftWorker:
    """Owns the monitors of this process; every method runs on the stream's event loop (not thread-safe)."""

    def __init__(
        self,
        *,
        section: DriftSection,
        store: DriftStore,
        producer: EventProducer,
        kafka: KafkaSettings,
        metrics: DriftMetrics,
        service: str = "drift",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.section = section
        self.store = store
        self.producer = producer
        self.metrics = metrics
        self.service = service
        self.clock = clock
        self.dlq_topic = kafka.topic(topics.DEADLETTER.name)
        self.monitors: dict[str, Tracked] = {}
        self.events_since_checkpoint = 0

    # -- records -------------------------------------------------------------------------------------------
    def process(self, kind: str, value: bytes | None, partition: int, offset: int, origin: bytes | None = None) -> None:
        """Apply one record; raises ``RejectedRecordError`` (dead-letter it) or ``RetryableError`` (Redis down,
        nothing was applied: retry the same record). ``origin``: the record's ``mlmon.origin`` header."""
        event = decode(kind, value)
        tracked = self.monitors.get(event.model_id) or self._load(event.model_id, partition)
        if tracked.covers(kind, partition, offset):
            self.metrics.replay_skipped.inc()
            return
        if tracked.origins.replayed(kind, origin):
            tracked.offsets[kind] = [partition, offset]
            tracked.dirty = True
            self.metrics.upstream_copies_skipped.inc()
            return
        mon = tracked.monitor
        if kind == PREDICTIONS:
            building = mon.builder is not None
            out = mon.observe(event.features, event.prediction, event.score, at=event.occurred_at)
            if building and mon.builder is None:
                tracked.unsaved_reference = True
                self._save_reference(tracked)
        else:
            out = mon.update_outcome(event)  # type: ignore[arg-type]
        tracked.offsets[kind] = [partition, offset]
        tracked.dirty = True
        self.events_since_checkpoint += 1
        if out:
            self.emit(out)

    def dead_letter(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, exc: Exception
    ) -> None:
        if isinstance(exc, RejectedRecordError):
            reason, error_class = exc.reason, exc.error_class
        else:
            reason, error_class = f"{type(exc).__name__}: {exc}", type(exc).__name__
        headers = [
            (topics.DLQ_REASON, reason.encode()[:4000]),
            (topics.DLQ_ERROR_CLASS, error_class.encode()),
            (topics.DLQ_SOURCE_TOPIC, topic.encode()),
            (topics.DLQ_SOURCE_PARTITION, str(partition).encode()),
            (topics.DLQ_SOURCE_OFFSET, str(offset).encode()),
            (topics.DLQ_SERVICE, self.service.encode()),
        ]
        self.producer.produce(self.dlq_topic, value or b"", key, headers)
        self.metrics.deadlettered(topic, error_class)
        logger.warning(
            "dead-lettered",
            extra={"topic": topic, "partition": partition, "offset": offset, "reason": reason[:500]},
        )

    # -- monitors ------------------------------------------------------------------------------------------
    def _load(self, model_id: str, partition: int) -> Tracked:
        """The model's monitor from its checkpoint, else from its current reference, else a new builder."""
        config = self.section.for_model(model_id)
        ckpt = self.store.checkpoint(model_id)
        tracked: Tracked | None = None
        if ckpt is not None:
            state = ckpt["monitor"]
            version = state.get("reference_version")
            stored = self.store.reference(model_id, version) if version is not None and "builder" not in state else None
            try:
                mon = ModelMonitor.from_state(state, stored.profile if stored else None)
                offsets = {k: list(v) for k, v in ckpt.get("offsets", {}).items()}
                tracked = Tracked(mon, partition, offsets, OriginMarks.from_state(ckpt.get("origins")))
                self.metrics.restored.inc()
                logger.info("monitor restored", extra={"model_id": model_id, "events_seen": mon.events_seen})
            except ValueError:
                logger.exception("checkpoint unusable: starting the model afresh", extra={"model_id": model_id})
        if tracked is None:
            stored = self.store.reference(model_id)
            tracked = Tracked(ModelMonitor(model_id, config, stored.profile if stored else None), partition)
        self.monitors[model_id] = tracked
        self.metrics.models.set(len(self.monitors))
        return tracked

    def _save_reference(self, tracked: Tracked) -> None:
        profile = tracked.monitor.reference
        if profile is None or not tracked.unsaved_reference:
            return
        try:
            self.store.save_built_reference(profile, self.clock())
            tracked.unsaved_reference = False
        except Exception:  # retried at the next checkpoint
            logger.exception("could not store the built reference", extra={"model_id": tracked.monitor.model_id})

    def release(self, partitions: Iterable[int]) -> int:
        """Checkpoint, then forget, the models of ``partitions`` (revoked: another worker may own them now)."""
        gone = set(partitions)
        models = [m for m, t in self.monitors.items() if t.partition in gone]
        self.checkpoint(models)
        for m in models:
            del self.monitors[m]
        self.metrics.models.set(len(self.monitors))
        return len(models)

    def release_all(self) -> int:
        return self.release({t.partition for t in self.monitors.values()})

    # -- events out ----------------------------------------------------------------------------------------
    def _stable_id(self, event: DriftEvent, events_seen: int) -> str:
        ref = event.details.get("reference_version")
        name = f"{event.model_id}|{event.kind}|{event.feature}|{event.state}|{event.occurred_at.isoformat()}|{ref}"
        return str(uuid.uuid5(EVENT_NAMESPACE, f"{name}|{events_seen}"))

    def emit(self, events: Iterable[DriftEvent]) -> int:
        """Publish transitions once (last published state per (model, kind, feature)) and snapshots."""
        sent = 0
        for event in events:
            if event.state == "snapshot":
                self.producer.send(topics.DRIFT.name, event)
                sent += 1
                continue
            tracked = self.monitors.get(event.model_id)
            seen = tracked.monitor.events_seen if tracked else 0
            event = event.model_copy(update={"event_id": self._stable_id(event, seen)})
            slot = f"{event.kind}:{event.feature or ''}"
            try:
                if self.store.last_published(event.model_id, slot) == event.state:
                    self.metrics.suppressed.inc()
                    logger.info("transition already published", extra={"model_id": event.model_id, "slot": slot})
                    continue
            except Exception:  # Redis down: publish (a duplicate beats a lost transition)
                logger.exception("could not read the published transitions", extra={"model_id": event.model_id})
            self.producer.send(topics.DRIFT.name, event)
            self.producer.flush(10.0)
            try:
                self.store.mark_published(event.model_id, slot, event.state)
            except Exception:
                logger.exception("could not record the published transition", extra={"model_id": event.model_id})
            self.metrics.emitted(event.kind, event.state)
            logger.info(
                "drift transition",
                extra={"model_id": event.model_id, "kind": event.kind, "state": event.state, "feature": event.feature},
            )
            sent += 1
        return sent

    def snapshots(self) -> int:
        now = self.clock()
        events = [e for t in self.monitors.values() for e in t.monitor.snapshot(now)]
        for e in events:
            self.producer.send(topics.DRIFT.name, e)
            self.metrics.emitted(e.kind, e.state)
        return len(events)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def checkpoint(self, models: Iterable[str] | None = None) -> int:
        """Save the changed monitors (all, or ``models``) and their status; raises if Redis is down."""
        chosen = self.monitors if models is None else {m: self.monitors[m] for m in models if m in self.monitors}
        now = self.clock()
        docs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for model_id, tracked in chosen.items():
            if tracked.unsaved_reference:
                self._save_reference(tracked)
            if not tracked.dirty:
                continue
            ckpt = {
                "monitor": tracked.monitor.to_state(include_reference=False),
                "offsets": tracked.offsets,
                "origins": tracked.origins.to_state(),
                "saved_at": now.isoformat(),
            }
            docs[model_id] = (ckpt, status_doc(tracked, now))
        self.store.save_checkpoints(docs)
        for model_id in docs:
            chosen[model_id].dirty = False
        if models is None:
            self.events_since_checkpoint = 0
        self.metrics.checkpoints.inc(len(docs))
        return len(docs)

    # -- references ----------------------------------------------------------------------------------------
    def poll_references(self) -> list[DriftEvent]:
        """Apply reset requests and uploaded references of the models this worker owns."""
        if not self.monitors:
            return []
        now = self.clock()
        out: list[DriftEvent] = []
        for model_id, request in self.store.pending_resets(self.monitors).items():
            tracked = self.monitors[model_id]
            out += tracked.monitor.reset_reference(None, now)
            tracked.dirty = True
            self.store.reset_done(model_id, request)
            logger.info("reference reset: rebuilding", extra={"model_id": model_id, "requested_at": request})
        for model_id, version in self.store.current_versions(self.monitors).items():
            tracked = self.monitors[model_id]
            mon = tracked.monitor
            known = mon.reference_version if mon.reference else (mon.builder.version - 1 if mon.builder else 0)
            if version is None or version <= (known or 0):
                continue
            stored = self.store.reference(model_id, version)
            if stored is None:
                continue
            out += mon.reset_reference(stored.profile, now)
            tracked.dirty = True
            logger.info("reference applied", extra={"model_id": model_id, "version": version})
        if out:
            self.emit(out)
        return out


def status_doc(tracked: Tracked, now: datetime) -> dict[str, Any]:
    """The JSON state ``GET /v1/models/{id}/drift`` returns."""
    mon = tracked.monitor
    cfg = mon.config
    doc: dict[str, Any] = {
        "model_id": mon.model_id,
        "updated_at": now.isoformat(),
        "events_seen": mon.events_seen,
        "last_event_at": mon.last_at.isoformat() if mon.last_at else None,
        "reference": {
            "version": mon.reference_version,
            "building": mon.builder is not None,
            "collected": len(mon.builder.rows) if mon.builder else None,
            "size": cfg.reference_size,
        },
        "data_drift": {
            "score": mon.data_drift_score(),
            "threshold": cfg.data_drift_max,
            "drifting": bool(mon.reference is not None and mon.data_drifting),
        },
        "drifting_features": mon.drifting_features(),
        "features": {},
        "concept": {
            "detector": mon.concept.detector_name,
            "drifting": mon.concept.drifting,
            "outcomes": mon.concept.outcomes,
        },
        "window_events": cfg.window_events,
    }
    if mon.reference is not None:
        doc["windows"] = mon.filled
        doc["features"] = {
            name: {"p_value": _finite(p), "statistic": _finite(s), "drifting": bool(d)}
            for name, p, s, d in zip(mon.names, mon.last_p, mon.last_stat, mon.gate.drifting, strict=True)
        }
    return doc
