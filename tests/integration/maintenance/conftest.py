"""Fixtures of the maintenance integration tests: the service in-process (real broker, real Redis, real
HTTP) and helpers to feed it events."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from mlmon_common.devstack import free_port
from mlmon_common.events import AlertEvent, Envelope, OutcomeEvent, Severity
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings
from mlmon_common.testing import serve_in_thread
from mlmon_maintenance.app import build
from mlmon_maintenance.config import MaintenanceConfig
from mlmon_maintenance.settings import MaintenanceOptions, MaintenanceSettings

API_KEY = "maintenance-test-key-0123"
AUTH = {"X-API-Key": API_KEY}
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def config_for(tmp: Path, **overrides: object) -> MaintenanceConfig:
    doc: dict[str, object] = {
        "executors": {"command": {"state_dir": str(tmp / "jobs")}},
        "backup": {"dir": str(tmp / "backups")},
        "verification": {"min_holdout_rows": 20},
    }
    doc.update(overrides)
    return MaintenanceConfig.model_validate(doc)


def settings_for(kafka: KafkaSettings, redis_settings: RedisSettings) -> MaintenanceSettings:
    return MaintenanceSettings(
        kafka=kafka,
        redis=redis_settings,
        http=HttpSettings(port=free_port()),
        api_key=API_KEY,  # type: ignore[arg-type]
        maintenance=MaintenanceOptions(tick_interval_s=3600, worker_poll_s=0.1),
    )


@pytest.fixture
def service(kafka: KafkaSettings, redis_settings: RedisSettings, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """(base url, app.state.maintenance) of a running maintenance service."""
    runtime, app = build(settings_for(kafka, redis_settings), config_for(tmp_path))
    with serve_in_thread(app, runtime.settings.http.port) as url:
        yield url, app.state.maintenance


def drift_alert(model_id: str, fingerprint: str = "fp-drift-1", status: str = "firing") -> AlertEvent:
    return AlertEvent(
        event_id=f"alert-{model_id}-{fingerprint}-{status}",
        occurred_at=T0,
        model_id=model_id,
        fingerprint=fingerprint,
        alertname="DataDriftDetected",
        status=status,  # type: ignore[arg-type]
        severity=Severity.WARNING,
        labels={"alertname": "DataDriftDetected", "model_id": model_id, "category": "drift"},
        starts_at=T0,
        value=0.4,
    )


def outcomes(model_id: str, n: int, seed: int = 7) -> list[OutcomeEvent]:
    """Labelled outcomes of a learnable task: label = 1 when x1 + 0.5 * x2 > 0 (10% label noise)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        label = int(x1 + 0.5 * x2 > 0) ^ (rng.random() < 0.1)
        at = T0 + timedelta(seconds=i)
        out.append(
            OutcomeEvent(
                event_id=f"o-{model_id}-{seed}-{i}",
                occurred_at=at,
                model_id=model_id,
                prediction_id=f"p{i}",
                features={"x1": round(x1, 4), "x2": round(x2, 4)},
                prediction=1,
                label=label,
                predicted_at=at,
                labelled_at=at,
            )
        )
    return out


def produce(kafka: KafkaSettings, topic: str, events: list[Envelope]) -> None:
    producer = Producer(kafka.client_config())
    for event in events:
        producer.produce(kafka.topic(topic), event.to_json(), key=event.key)
    assert producer.flush(30) == 0


class Helpers:
    """The helpers above, as a fixture (test modules cannot import this conftest by name)."""

    AUTH = AUTH
    API_KEY = API_KEY
    T0 = T0
    config_for = staticmethod(config_for)
    settings_for = staticmethod(settings_for)
    drift_alert = staticmethod(drift_alert)
    outcomes = staticmethod(outcomes)
    produce = staticmethod(produce)


@pytest.fixture
def mt() -> type[Helpers]:
    return Helpers
