"""Durability: kill -9 of the service process, a receiver down then back, invalid config at start-up.

The service runs as a real process (``python -m mlmon_alerting``) configured through the environment.
Backoff is shortened for the test (``MLMON_ALERTING_RETRY_INITIAL_S=0.2``, ``..._RETRY_MAX_S=1``,
``..._DELIVERY_LEASE_S=3``) so that "down for a while" fits in seconds instead of the issue's 2 minutes.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlmon_common.devstack import free_port
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, ServiceProcess, service_env, wait_for

from .conftest import API_KEY, metrics, running_service, send, write_config

MODELS = ("m-a", "m-b", "m-c")


def config(receiver: str, group_wait: str = "0s") -> str:
    return f"""
alerting:
  route: {{receiver: hook, group_by: [model_id], group_wait: {group_wait}, group_interval: 1s}}
  receivers:
    - name: hook
      webhook_configs: [{{url: "{receiver}/hook", timeout: 2s}}]
"""


class AlertingProcess(ServiceProcess):
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        super().__init__("mlmon_alerting", env, log, port=port)

    def outbox(self) -> dict[str, int]:
        return httpx.get(f"{self.url}/v1/receivers/outbox", timeout=2).json()


def alerting_env(kafka: KafkaSettings, redis_settings: RedisSettings, config_path: Path, port: int) -> dict[str, str]:
    return service_env(
        kafka,
        redis_settings,
        MLMON_LOG_LEVEL="WARNING",
        MLMON_HTTP_PORT=str(port),
        MLMON_API_KEY=API_KEY,
        MLMON_CONFIG=str(config_path),
        MLMON_ALERTING_RETRY_INITIAL_S="0.2",
        MLMON_ALERTING_RETRY_MAX_S="1",
        MLMON_ALERTING_DELIVERY_LEASE_S="3",
    )


@pytest.fixture
def service(
    kafka: KafkaSettings, redis_settings: RedisSettings, http_receiver: HttpSink, tmp_path: Path
) -> Iterator[AlertingProcess]:
    port = free_port()
    env = alerting_env(kafka, redis_settings, write_config(tmp_path, config(http_receiver.url)), port)
    svc = AlertingProcess(env, port, tmp_path / "alerting.log")
    yield svc
    svc.stop()


def _by_status(receiver: HttpSink) -> Counter[tuple[str, str]]:
    """(model_id, status) -> deliveries received."""
    out: Counter[tuple[str, str]] = Counter()
    for r in receiver.on("/hook"):
        body = r.json()
        for alert in body["alerts"]:
            out[(alert["labels"]["model_id"], body["status"])] += 1
    return out


def test_kill9_with_pending_notifications_delivers_each_once_and_the_later_resolve(
    kafka: KafkaSettings, service: AlertingProcess, http_receiver: HttpSink
) -> None:
    service.start()
    http_receiver.status = 503  # receiver down: notifications stay pending in the outbox
    send(kafka, *(metrics(m, 0.5) for m in MODELS))
    wait_for(lambda: service.outbox()["pending"] == 3, 20, "3 pending notifications")
    wait_for(lambda: http_receiver.attempts >= 6, 20, "failed attempts against the down receiver")
    service.kill9()

    http_receiver.status = 200
    service.start()
    wait_for(lambda: sum(_by_status(http_receiver).values()) >= 3, 30, "the 3 pending notifications after restart")
    wait_for(lambda: service.outbox()["pending"] == 0, 20, "an empty outbox")
    assert service.outbox()["delivered"] == 3
    assert _by_status(http_receiver) == {(m, "firing"): 1 for m in MODELS}
    keys = [r.headers["idempotency-key"] for r in http_receiver.on("/hook")]
    assert len(set(keys)) == 3

    # Killed again while the alerts fire; they resolve while the service is down.
    service.kill9()
    send(kafka, *(metrics(m, 0.99) for m in MODELS))
    service.start()
    wait_for(lambda: sum(_by_status(http_receiver).values()) >= 6, 30, "the 3 resolve notifications")
    wait_for(lambda: service.outbox()["pending"] == 0, 20, "an empty outbox")
    assert service.outbox()["delivered"] == 6
    assert _by_status(http_receiver) == {(m, s): 1 for m in MODELS for s in ("firing", "resolved")}
    alerts = httpx.get(f"{service.url}/v1/alerts").json()["alerts"]
    assert sorted((a["labels"]["model_id"], a["status"]) for a in alerts) == [(m, "resolved") for m in MODELS]


def test_kill9_during_group_wait_notifies_once_after_restart(
    kafka: KafkaSettings, redis_settings: RedisSettings, http_receiver: HttpSink, tmp_path: Path
) -> None:
    """The alert fired and its group waits (group_wait 4s) when the process dies: no notification yet.
    The group (with its timer) is in Redis, so the restarted process sends it, once."""
    port = free_port()
    env = alerting_env(kafka, redis_settings, write_config(tmp_path, config(http_receiver.url, "4s")), port)
    svc = AlertingProcess(env, port, tmp_path / "alerting.log")
    try:
        svc.start()
        send(kafka, metrics("m-w", 0.5))
        wait_for(lambda: httpx.get(f"{svc.url}/v1/alerts").json()["count"] == 1, 20, "the firing alert")
        svc.kill9()
        assert http_receiver.attempts == 0
        svc.start()
        wait_for(lambda: svc.outbox()["delivered"] == 1, 30, "the group's notification after restart")
        assert svc.outbox()["pending"] == 0
        assert _by_status(http_receiver) == {("m-w", "firing"): 1}
    finally:
        svc.stop()


def test_receiver_down_then_back_retried_and_delivered_once(
    kafka: KafkaSettings, redis_settings: RedisSettings, http_receiver: HttpSink
) -> None:
    http_receiver.status = 502
    with running_service(kafka, redis_settings, config(http_receiver.url)) as (url, parts):
        send(kafka, *(metrics(m, 0.5) for m in MODELS))
        wait_for(lambda: http_receiver.attempts >= 9, 30, "at least 3 failed attempts per notification")
        assert httpx.get(f"{url}/v1/receivers/outbox").json()["pending"] == 3
        http_receiver.status = 200
        wait_for(lambda: httpx.get(f"{url}/v1/receivers/outbox").json()["delivered"] == 3, 20, "3 deliveries")
        outbox = httpx.get(f"{url}/v1/receivers/outbox").json()
        assert outbox["pending"] == 0
        assert outbox["failed"] == 0
        assert _by_status(http_receiver) == {(m, "firing"): 1 for m in MODELS}
        records = [parts.engine.store.outbox.get(k) for k in _record_keys(http_receiver)]
        assert all(r is not None and r.status == "delivered" and r.attempts >= 3 for r in records)


def _record_keys(receiver: HttpSink) -> list[str]:
    return [f"{r.headers['idempotency-key']}:webhook:0" for r in receiver.on("/hook")]


BAD = [
    ("route: {receiver: nobody}\nreceivers: [{name: ops}]\n", "route.receiver: unknown receiver 'nobody'"),
    ("route: {receiver: ops, group_wait: soon}\nreceivers: [{name: ops}]\n", "route.group_wait: invalid duration"),
    ("route: [\n", "invalid YAML"),
]


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_invalid_config_exits_non_zero_naming_file_path_problem(
    kafka: KafkaSettings, redis_settings: RedisSettings, tmp_path: Path, text: str, problem: str
) -> None:
    path = write_config(tmp_path, text)
    env = alerting_env(kafka, redis_settings, path, free_port())
    proc = subprocess.run(
        [sys.executable, "-m", "mlmon_alerting"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert f"{path}: " in proc.stderr
    assert problem in proc.stderr


def test_missing_config_file_exits_non_zero(
    kafka: KafkaSettings, redis_settings: RedisSettings, tmp_path: Path
) -> None:
    env = alerting_env(kafka, redis_settings, tmp_path / "absent.yml", free_port())
    proc = subprocess.run(
        [sys.executable, "-m", "mlmon_alerting"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert f"{tmp_path / 'absent.yml'}: (file): cannot read" in proc.stderr
