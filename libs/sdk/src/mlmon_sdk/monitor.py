"""The model-server side of mlmon: never blocks and never raises into the request path.

Events are validated against the mlmon contract, serialised and handed to librdkafka's in-memory queue
(bounded by ``buffer_size``); a background thread serves delivery reports. When the broker is unreachable,
events wait in the queue (up to ``delivery_timeout_s``) and are delivered when it returns; when the queue is
full, new events are dropped and counted (``stats.dropped``), never blocking the caller.

The SDK keeps no buffer of its own: librdkafka's queue is the buffer. When the producer client has to be
replaced (the broker lost its producer id, a fatal error, every broker went away: see
:class:`mlmon_common.kafka.EventProducer`), the events still queued in the old client come back as delivery
reports carrying their payload and are produced again on the new one (``stats.resent``), so a broker restart
loses nothing that was queued (it may reorder them behind newer events of the same model).
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError

from mlmon_common import topics
from mlmon_common.events import LabelEvent, PredictionEvent, Scalar, new_event_id, utcnow
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import KafkaSettings
from mlmon_sdk.fastpath import plain, prediction_json, prediction_ok

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class MonitorStats:
    queued: int
    delivered: int
    failed: int
    dropped: int
    invalid: int
    pending: int
    resets: int = 0  # producer clients replaced
    resent: int = 0  # events produced again on the replacement client


class Tracked:
    """What a :meth:`Monitor.track` block fills in: the prediction (and optionally score/scores)."""

    __slots__ = ("prediction", "prediction_id", "score", "scores")

    def __init__(self, prediction_id: str) -> None:
        self.prediction_id = prediction_id
        self.prediction: Scalar | None = None
        self.score: float | None = None
        self.scores: dict[str, float] | None = None


class Monitor:
    """Publishes one model's predictions and labels to the raw mlmon topics."""

    def __init__(
        self,
        model_id: str,
        model_version: str = "unknown",
        *,
        bootstrap: str | None = None,
        kafka: KafkaSettings | None = None,
        host: str | None = None,
        buffer_size: int = 100_000,
        delivery_timeout_s: float = 600.0,
        strict: bool = False,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        if kafka is None:
            kafka = KafkaSettings(bootstrap=bootstrap) if bootstrap else KafkaSettings()
        PredictionEvent(model_id=model_id, prediction_id="check", model_version=model_version)  # fail fast
        self.model_id = model_id
        self.model_version = model_version
        self.host = host
        self.strict = strict
        self.invalid = 0
        self._queued = 0
        self._kafka = kafka
        config = {
            "queue.buffering.max.messages": buffer_size,
            "message.timeout.ms": int(delivery_timeout_s * 1000),
            "linger.ms": 20,
            "batch.num.messages": 10_000,
        } | dict(producer_config or {})
        self._producer = EventProducer(
            kafka,
            client_id=f"mlmon-sdk-{model_id}",
            block_when_full=False,
            poll_each=False,
            requeue_on_reset=True,
            config=config,
        )
        self._predictions = kafka.topic(topics.RAW_PREDICTIONS.name)
        self._labels = kafka.topic(topics.RAW_LABELS.name)
        self._key = model_id.encode()
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="mlmon-sdk-poller", daemon=True)
        self._poller.start()
        atexit.register(self.close)

    # -- logging API -----------------------------------------------------------------------------------

    def log_prediction(
        self,
        features: Mapping[str, Scalar | None],
        prediction: Scalar | None,
        score: float | None = None,
        latency_ms: float | None = None,
        prediction_id: str | None = None,
        *,
        scores: Mapping[str, float] | None = None,
        error: str | None = None,
        tags: Mapping[str, str] | None = None,
        occurred_at: datetime | None = None,
    ) -> str | None:
        """Queue one prediction; returns its ``prediction_id`` (generated if not given), None if rejected."""
        pid = prediction_id or new_event_id()
        features = dict(features) if type(features) is not dict else features
        if prediction_ok(features, prediction, score, scores, latency_ms, error, pid, tags):
            at = occurred_at if isinstance(occurred_at, datetime) and occurred_at.tzinfo else utcnow()
            payload = prediction_json(
                self.model_id,
                self.model_version,
                pid,
                features,
                prediction,
                score,
                scores,
                latency_ms,
                error,
                self.host,
                tags,
                at,
            )
            return pid if self._send(payload, self._predictions) else None
        fields: dict[str, Any] = {
            "model_id": self.model_id,
            "model_version": self.model_version,
            "prediction_id": pid,
            "features": {k: plain(v) for k, v in features.items()},
            "prediction": plain(prediction),
            "score": plain(score),
            "scores": {k: plain(v) for k, v in scores.items()} if scores is not None else None,
            "latency_ms": plain(latency_ms),
            "error": error,
            "host": self.host,
            "tags": dict(tags) if tags else {},
        }
        if occurred_at is not None:
            fields["occurred_at"] = occurred_at
        return pid if self._publish(PredictionEvent, fields, self._predictions) else None

    def log_label(
        self,
        prediction_id: str,
        label: Scalar,
        value: float | None = None,
        occurred_at: datetime | None = None,
    ) -> bool:
        """Queue the ground truth of an earlier prediction. Returns False if rejected or dropped."""
        fields: dict[str, Any] = {
            "model_id": self.model_id,
            "prediction_id": prediction_id,
            "label": plain(label),
            "value": plain(value),
        }
        if occurred_at is not None:
            fields["occurred_at"] = occurred_at
        return self._publish(LabelEvent, fields, self._labels)

    @contextmanager
    def track(self, features: Mapping[str, Scalar | None], prediction_id: str | None = None) -> Iterator[Tracked]:
        """Time a predict call; a raised exception is logged as a failed prediction and re-raised."""
        tracked = Tracked(prediction_id or new_event_id())
        start = time.perf_counter()
        try:
            yield tracked
        except Exception as exc:
            self.log_prediction(
                features,
                None,
                None,
                (time.perf_counter() - start) * 1000,
                tracked.prediction_id,
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            raise
        self.log_prediction(
            features,
            tracked.prediction,
            tracked.score,
            (time.perf_counter() - start) * 1000,
            tracked.prediction_id,
            scores=tracked.scores,
        )

    def predict(self, fn: Callable[[Mapping[str, Scalar | None]], R]) -> Callable[[Mapping[str, Scalar | None]], R]:
        """Decorate ``predict(features) -> prediction`` so every call is timed and logged."""

        @functools.wraps(fn)
        def wrapper(features: Mapping[str, Scalar | None]) -> R:
            with self.track(features) as tracked:
                result = fn(features)
                tracked.prediction = result  # type: ignore[assignment]
            return result

        return wrapper

    # -- delivery ----------------------------------------------------------------------------------------

    def _publish(self, model: type[PredictionEvent] | type[LabelEvent], fields: dict[str, Any], topic: str) -> bool:
        try:
            payload = model.model_validate(fields).to_json()
        except ValidationError as exc:
            self.invalid += 1
            if self.strict:
                raise
            if self.invalid <= 10 or self.invalid % 1000 == 0:
                logger.warning("invalid event not sent", extra={"model_id": self.model_id, "error": str(exc)})
            return False
        return self._send(payload, topic)

    def _send(self, payload: bytes, topic: str) -> bool:
        if self._producer.produce(topic, payload, self._key):
            self._queued += 1
            return True
        return False

    def _poll_loop(self) -> None:
        """Serve delivery reports (and replace the client when it must be): the thread never dies."""
        while not self._closed.is_set():
            try:
                self._producer.poll(0.2)
            except Exception:
                logger.exception("mlmon-sdk poller error", extra={"model_id": self.model_id})
                self._closed.wait(1.0)

    @property
    def stats(self) -> MonitorStats:
        s = self._producer.stats
        return MonitorStats(
            queued=self._queued,
            delivered=sum(s.produced.values()),
            failed=sum(s.failed.values()),
            dropped=s.dropped,
            invalid=self.invalid,
            pending=self._producer.pending(),
            resets=s.resets,
            resent=s.resent,
        )

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait until queued events are delivered; returns how many are still pending."""
        return self._producer.flush(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._poller.join(1.0)
        self._producer.close(timeout_s)
        atexit.unregister(self.close)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
