"""Fixtures of the drift integration tests: the service as a real subprocess (``python -m mlmon_drift``) on the
real broker and Redis, a feeder for the predictions/outcomes topics and a reader of the drift topic."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError

from mlmon_common import topics
from mlmon_common.devstack import free_port
from mlmon_common.events import DriftEvent, PredictionEvent
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import service_env, unique, wait_for
from mlmon_drift.scenarios import generate

API_KEY = "drift-test-key-0123456"
AUTH = {"X-API-Key": API_KEY}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: Small windows so a test stays short: reference of 300 events, 50-event windows.
SMALL = {"MLMON_DRIFT_REFERENCE_SIZE": "300", "MLMON_DRIFT_WINDOW_EVENTS": "50"}


@dataclass
class DriftProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout_s: float = 10.0) -> float:
        """SIGTERM; returns the seconds the process took to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout_s)
        return time.monotonic() - started

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


class Workers:
    """Starts drift processes for one test and stops every one of them at the end."""

    def __init__(self, kafka: KafkaSettings, redis: RedisSettings, tmp_path: Path) -> None:
        self.kafka, self.redis, self.tmp_path = kafka, redis, tmp_path
        self.started: list[DriftProcess] = []

    def env(self, **extra: str) -> dict[str, str]:
        return service_env(
            self.kafka,
            self.redis,
            MLMON_API_KEY=API_KEY,
            MLMON_DRIFT_CHECKPOINT_INTERVAL_S="0.5",
            MLMON_DRIFT_REFERENCE_POLL_S="0.3",
            MLMON_DRIFT_SNAPSHOT_INTERVAL_S="3600",
            **SMALL,
            **extra,
        )

    def start(self, wait_ready: bool = True, **extra: str) -> DriftProcess:
        port = free_port()
        log = self.tmp_path / f"drift-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mlmon_drift"],
                env=self.env(MLMON_HTTP_PORT=str(port), **extra),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = DriftProcess(proc, f"http://127.0.0.1:{port}", log)
        self.started.append(worker)
        if wait_ready:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: DriftProcess, timeout_s: float = 120.0) -> None:
        def ready() -> bool:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"drift worker exited with {worker.proc.returncode}:\n{worker.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{worker.url}/readyz", timeout=2).status_code == 200
            return False

        wait_for(ready, timeout_s, f"drift worker ready at {worker.url}", interval_s=0.2)

    def stop_all(self) -> None:
        for w in self.started:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.started:
            try:
                w.proc.wait(15)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait(5)


@pytest.fixture
def workers(kafka: KafkaSettings, redis_settings: RedisSettings, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(kafka, redis_settings, tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


def scenario_events(model_id: str, name: str, length: int, change_at: int, seed: int = 1001) -> list[PredictionEvent]:
    """A seeded scenario of ``mlmon_drift.scenarios`` as prediction events, one per second of event time."""
    s = generate(name, seed=seed, length=length, change_at=change_at)
    return [
        PredictionEvent(
            model_id=model_id,
            prediction_id=f"{model_id}-{i}",
            occurred_at=T0 + timedelta(seconds=i),
            features=row,
            prediction=score > 0.5,
            score=score,
        )
        for i, (row, score) in enumerate(zip(s.rows, s.scores, strict=True))
    ]


@pytest.fixture
def feed(kafka: KafkaSettings) -> Iterator[Callable[[list[Any]], None]]:
    producer = EventProducer(kafka, client_id=unique("feed-"))

    def send(events: list[Any], topic: str = topics.PREDICTIONS.name) -> None:
        for e in events:
            producer.send(topic, e)
        assert producer.flush(30) == 0

    yield send
    producer.close()


class DriftReader:
    """Reads the drift topic from the beginning, accumulating every DriftEvent."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.consumer = Consumer(
            kafka.client_config()
            | {
                "group.id": unique("drift-reader-"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 2000,
                "heartbeat.interval.ms": 500,
                "fetch.wait.max.ms": 20,
            }
        )
        self.consumer.subscribe([kafka.topic(topics.DRIFT.name)])
        self.events: list[DriftEvent] = []

    def poll(self, seconds: float = 0.3) -> list[DriftEvent]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(500, 0.1):
                if msg.error() is None:
                    self.events.append(DriftEvent.model_validate_json(msg.value()))  # type: ignore[arg-type]
                elif msg.error().code() != KafkaError._PARTITION_EOF:  # type: ignore[union-attr]
                    raise RuntimeError(str(msg.error()))
        return self.events

    def transitions(self, model_id: str, kind: str = "feature", state: str = "started") -> list[DriftEvent]:
        return [e for e in self.events if e.model_id == model_id and e.kind == kind and e.state == state]

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def drift_reader(kafka: KafkaSettings) -> Iterator[DriftReader]:
    reader = DriftReader(kafka)
    yield reader
    reader.close()


def wait_processed(url: str, model_id: str, events: int, timeout_s: float = 40.0) -> dict[str, Any]:
    """Wait until GET /v1/models/{id}/drift reports ``events`` events seen (checkpointed state)."""

    def done() -> dict[str, Any] | None:
        r = httpx.get(f"{url}/v1/models/{model_id}/drift", timeout=5)
        if r.status_code == 200 and r.json()["events_seen"] >= events:
            return r.json()  # type: ignore[no-any-return]
        return None

    return wait_for(done, timeout_s, f"{model_id}: {events} events processed", interval_s=0.2)


@dataclass(frozen=True)
class Helpers:
    """Plain helpers handed to tests as a fixture (test modules cannot import conftest under importlib)."""

    scenario_events: Callable[..., list[PredictionEvent]] = scenario_events
    wait_processed: Callable[..., dict[str, Any]] = wait_processed
    auth: dict[str, str] = None  # type: ignore[assignment]


@pytest.fixture
def helpers() -> Helpers:
    return Helpers(auth=AUTH)
