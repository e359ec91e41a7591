"""The whole system as real processes, for the fault tests: the five services (``python -m mlmon_<svc>``), one
YAML config, a real HTTP notification receiver whose behaviour the test switches (ok / 5xx / timeout), and
helpers that feed a stream and read every output topic back for reconciliation.

Timers are shortened through the environment (each value is listed in :func:`service_env`) so that a fault
"for a while" fits in seconds: collector windows of 2 s closed after 1 s idle, drift checkpoints every 1 s,
alerting retries from 0.2 s up to 1 s.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from confluent_kafka import Consumer, KafkaError, Message
from pydantic import ValidationError

from mlmon_common import testing, topics
from mlmon_common.devstack import free_port
from mlmon_common.events import LabelEvent, MetricsEvent, PredictionEvent, decode_event, utcnow
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, Received, ServiceProcess, drop_keys, isolated_kafka, unique, wait_for

API_KEY = "faults-key-0123456789"
SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")
#: Webhook timeout of the alerting receiver: the receiver's "timeout" mode answers later than this.
WEBHOOK_TIMEOUT_S = 1.0


class Receiver(HttpSink):
    """A real HTTP notification receiver. ``mode``: ``ok`` (200), ``fail`` (503), ``timeout`` (answers only
    after ``WEBHOOK_TIMEOUT_S`` + 1 s, i.e. after the sender gave up, and never counts as a delivery). Only
    answers the sender saw as a success count as deliveries; every request is an attempt (by mode)."""

    def __init__(self) -> None:
        super().__init__(answer=self._by_mode)
        self.mode = "ok"
        self.attempts_by_mode: Counter[str] = Counter()

    def _by_mode(self, _request: Received) -> int:
        mode = self.mode
        with self.lock:
            self.attempts_by_mode[mode] += 1
        if mode == "timeout":
            time.sleep(WEBHOOK_TIMEOUT_S + 1.0)  # the sender has given up by now
            return 504
        return 503 if mode == "fail" else 200

    def deliveries(self, model_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """One entry per alert of each delivered payload: idempotency key, model, alert name, status."""
        wanted = set(model_ids) if model_ids is not None else None
        out = []
        for request in self.requests:
            doc = request.json()
            for alert in doc["alerts"]:
                entry = {
                    "key": request.headers.get("idempotency-key", ""),
                    "model_id": alert["labels"].get("model_id", ""),
                    "alertname": alert["labels"].get("alertname", ""),
                    "status": doc["status"],
                }
                if wanted is None or entry["model_id"] in wanted:
                    out.append(entry)
        return out

    def keys(self, model_ids: Iterable[str] | None = None) -> Counter[str]:
        return Counter(d["key"] for d in self.deliveries(model_ids))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


def write_config(path: Path, receiver_url: str) -> Path:
    config = {
        "collector": {"window_s": 2, "allowed_lateness_s": 30},
        "alerting": {
            "route": {"receiver": "hook", "group_by": ["model_id"], "group_wait": "0s", "group_interval": "1s"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": f"{receiver_url}/hook", "timeout": "1s"}]}],
        },
        "maintenance": {"executors": {"command": {"state_dir": str(path.parent / "jobs")}}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def service_env(kafka: KafkaSettings, redis_settings: RedisSettings, config: Path) -> dict[str, str]:
    return testing.service_env(
        kafka,
        redis_settings,
        MLMON_LOG_LEVEL="WARNING",
        MLMON_REDIS_SOCKET_TIMEOUT_S="1",
        MLMON_API_KEY=API_KEY,
        MLMON_CONFIG=str(config),
        MLMON_COLLECTOR_IDLE_S="1",
        MLMON_COLLECTOR_TICK_S="0.2",
        MLMON_COLLECTOR_MAX_OUT_OF_ORDER_S="0.5",
        MLMON_COLLECTOR_SWEEP_INTERVAL_S="0.5",
        MLMON_DRIFT_CHECKPOINT_INTERVAL_S="1",
        MLMON_ALERTING_RETRY_INITIAL_S="0.2",
        MLMON_ALERTING_RETRY_MAX_S="1",
        MLMON_ALERTING_DELIVERY_LEASE_S="3",
        MLMON_ALERTING_DELIVERY_POLL_S="0.1",
        MLMON_MAINTENANCE_WORKER_POLL_S="0.2",
        MLMON_MAINTENANCE_TICK_INTERVAL_S="3600",
        MLMON_REPORTING_FORECAST_INTERVAL_S="3600",
        MLMON_REPORTING_REPORT_CHECK_INTERVAL_S="3600",
    )


class Stack:
    """The services of one fault scenario as child processes (launched together, readiness awaited)."""

    def __init__(self, env: dict[str, str], log_dir: Path, names: Iterable[str] = SERVICES) -> None:
        self.procs = {n: ServiceProcess(f"mlmon_{n}", env, log_dir / f"{n}.log", port=free_port()) for n in names}

    def url(self, name: str) -> str:
        return self.procs[name].url

    def start(self, *names: str, timeout_s: float = 90.0) -> None:
        chosen = names or tuple(self.procs)
        for name in chosen:
            self.procs[name].launch()
        wait_ready(self, chosen, timeout_s)

    def kill9(self, name: str) -> None:
        self.procs[name].kill9()

    def ready(self, name: str) -> bool:
        return self.procs[name].ready()

    def readyz(self, name: str) -> int:
        try:
            return httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code
        except httpx.HTTPError:
            return 0

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()


def prediction(model_id: str, n: int, *, correct: bool = True) -> tuple[PredictionEvent, LabelEvent]:
    pid = f"p{n}"
    pred = PredictionEvent(model_id=model_id, prediction_id=pid, features={"x": float(n % 17)}, prediction=n % 2)
    label = LabelEvent(model_id=model_id, prediction_id=pid, label=n % 2 if correct else 1 - n % 2)
    return pred, label


def low_accuracy(model_id: str) -> MetricsEvent:
    now = utcnow()
    return MetricsEvent(
        model_id=model_id, window_start=now - timedelta(minutes=1), window_end=now, values={"accuracy": 0.5}
    )


def send(kafka: KafkaSettings, topic: str, events: Iterable[Any]) -> int:
    producer = EventProducer(kafka, client_id=unique("faults-"))
    n = 0
    try:
        for event in events:
            producer.send(topic, event)
            n += 1
        assert producer.flush(15) == 0, "events not acknowledged by the broker"
    finally:
        producer.close()
    return n


class TopicReader:
    """Reads a topic from the beginning, keeping every record (an own consumer group; bounded waits)."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.topic = kafka.topic(topic)
        self.records: list[Message] = []
        self._consumer = Consumer(
            kafka.client_config()
            | {
                "group.id": unique("faults-reader-"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 2000,
                "heartbeat.interval.ms": 500,
                "fetch.wait.max.ms": 20,
            }
        )
        self._consumer.subscribe([self.topic])

    def poll(self) -> list[Message]:
        for msg in self._consumer.consume(5000, 0.2):
            err = msg.error()
            if err is None:
                self.records.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(f"consume error on {self.topic}: {err}")
        return self.records

    def events(self) -> list[Any]:
        """The valid events read so far (poison records another test put on a shared topic are skipped)."""
        out = []
        for m in self.poll():
            try:
                out.append(decode_event(m.value() or b""))
            except ValidationError:
                continue
        return out

    def close(self) -> None:
        self._consumer.close()


def final_counts(metrics_events: Iterable[MetricsEvent], model_ids: set[str]) -> Counter[str]:
    """Predictions counted per model: the ``count`` of the highest revision of each window."""
    latest: dict[tuple[str, Any], MetricsEvent] = {}
    for ev in metrics_events:
        if ev.model_id in model_ids:
            key = (ev.model_id, ev.window_start)
            if key not in latest or ev.revision > latest[key].revision:
                latest[key] = ev
    out: Counter[str] = Counter()
    for (model_id, _), ev in latest.items():
        out[model_id] += int(ev.values.get("count", 0))
    return out


def wait_ready(stack: Stack, names: Iterable[str], timeout_s: float = 60.0) -> None:
    for name in names:
        wait_for(lambda n=name: stack.ready(n), timeout_s, f"{name} ready")  # type: ignore[misc]


@pytest.fixture(scope="module")
def module_kafka(infra: tuple[str, str]) -> KafkaSettings:
    """Like the ``kafka`` fixture, for one stack shared by the tests of a module."""
    return isolated_kafka(infra[0])


@pytest.fixture(scope="module")
def module_redis(infra: tuple[str, str]) -> Iterator[RedisSettings]:
    settings = RedisSettings(url=infra[1], key_prefix=unique("mlmon-faults:") + ":")  # type: ignore[arg-type]
    yield settings
    client = redis.Redis.from_url(infra[1])
    drop_keys(client, settings.key_prefix)
    client.close()


@pytest.fixture(scope="module")
def stack(
    module_kafka: KafkaSettings,
    module_redis: RedisSettings,
    receiver: Receiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The five services, started once for the module against the session broker and Redis."""
    run = tmp_path_factory.mktemp("stack")
    env = service_env(module_kafka, module_redis, write_config(run / "mlmon.yml", receiver.url))
    system = Stack(env, run)
    try:
        system.start()
        yield system
    finally:
        system.stop()


class Feeder:
    """Sends predictions + their labels for ``models`` in a background thread (about 200 pairs/s) until stopped."""

    def __init__(self, kafka: KafkaSettings, models: list[str]) -> None:
        self.kafka, self.models = kafka, models
        self.sent: Counter[str] = Counter()
        self.pids: set[tuple[str, str]] = set()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.n = 0

    def _run(self) -> None:
        producer = EventProducer(self.kafka, client_id=unique("feeder-"))
        try:
            while not self.stopped.wait(0.05):
                preds, labels = [], []
                for _ in range(10):
                    model = self.models[self.n % len(self.models)]
                    pred, label = prediction(model, self.n)
                    preds.append(pred)
                    labels.append(label)
                    self.n += 1
                for pred, label in zip(preds, labels, strict=True):
                    producer.send(topics.RAW_PREDICTIONS.name, pred)
                    producer.send(topics.RAW_LABELS.name, label)
                assert producer.flush(15) == 0
                for pred in preds:
                    self.sent[pred.model_id] += 1
                    self.pids.add((pred.model_id, pred.prediction_id))
        finally:
            producer.close()

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(30)
