"""Fixtures of the system-wide security and fuzzing tests: every service built in this process exactly as its
``__main__`` builds it (``build(settings)`` with real settings, a real YAML config file, the real broker and Redis)
and served over real HTTP; secrets of every kind set to recognisable values so tests can look for them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from mlmon_common.devstack import free_port
from mlmon_common.service import ServiceRuntime
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings, ServiceSettings
from mlmon_common.testing import serve_in_thread, unique

SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")
API_KEY = "sec-api-key-7f3a9c51e2b84d06"
WRONG_KEY = "sec-wrong-key-0000000000000000"
MAX_BODY = 64 * 1024
#: Recognisable secret values: none of them may ever show up in logs, ``/metrics`` or a read endpoint.
SECRETS = {
    "api_key": API_KEY,
    "smtp_password_alerting": "smtp-pass-alerting-5d1e0b7c",
    "smtp_password_reporting": "smtp-pass-reporting-93a4f2d8",
    "kafka_sasl_password": "kafka-sasl-pass-2c6f81e4",
    "redis_password": "redis-pass-b7e2049a1c",
    "webhook_secret": "webhook-hmac-secret-4e8d0f13",
    "pagerduty_routing_key": "pd-routing-key-a1b2c3d4e5",
}


def service_config(name: str, tmp: Path) -> dict[str, Any]:
    """The YAML config of one service, with a secret in every place the section supports one."""
    if name == "alerting":
        return {
            "alerting": {
                "route": {"receiver": "oncall", "group_wait": "0s"},
                "receivers": [
                    {
                        "name": "oncall",
                        "email_configs": [
                            {
                                "to": ["oncall@example.com"],
                                "from": "mlmon@example.com",
                                "smarthost": f"127.0.0.1:{free_port()}",
                                "auth_username": "mlmon",
                                "auth_password": SECRETS["smtp_password_alerting"],
                            }
                        ],
                        "pagerduty_configs": [
                            {"routing_key": SECRETS["pagerduty_routing_key"], "url": "http://127.0.0.1:9/enqueue"}
                        ],
                    }
                ],
            }
        }
    if name == "maintenance":
        return {
            "maintenance": {
                "executors": {
                    "command": {"state_dir": str(tmp / "jobs")},
                    "webhook": {
                        "url": "http://127.0.0.1:9/jobs",
                        "secret": SECRETS["webhook_secret"],
                        "callback_url": "http://127.0.0.1:9/cb",
                    },
                },
                "backup": {"dir": str(tmp / "backups")},
            }
        }
    if name == "reporting":
        return {
            "reporting": {
                "email": {
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "sender": "mlmon@example.com",
                    "to": ["team@example.com"],
                    "username": "mlmon",
                    "password": SECRETS["smtp_password_reporting"],
                }
            }
        }
    return {name: {}}


def _settings_class(name: str) -> tuple[type[ServiceSettings], Callable[..., tuple[ServiceRuntime, FastAPI]]]:
    if name == "collector":
        from mlmon_collector.app import build as build_collector
        from mlmon_collector.settings import CollectorSettings

        return CollectorSettings, build_collector
    if name == "drift":
        from mlmon_drift.app import build as build_drift
        from mlmon_drift.settings import DriftSettings

        return DriftSettings, build_drift
    if name == "alerting":
        from mlmon_alerting.app import build as build_alerting
        from mlmon_alerting.settings import AlertingSettings

        return AlertingSettings, build_alerting
    if name == "maintenance":
        from mlmon_maintenance.app import build as build_maintenance
        from mlmon_maintenance.settings import MaintenanceSettings

        return MaintenanceSettings, build_maintenance
    if name == "reporting":
        from mlmon_reporting.app import build as build_reporting
        from mlmon_reporting.settings import ReportingSettings

        return ReportingSettings, build_reporting
    raise ValueError(f"unknown service {name!r}")


#: Service options that keep timers quiet during a short test (no schedules firing, fast delivery polls).
QUIET: dict[str, dict[str, Any]] = {
    "collector": {"collector": {"idle_s": 0, "tick_s": 0.2, "sweep_interval_s": 0.2}},
    "drift": {},
    "alerting": {"alerting": {"delivery_poll_s": 0.1, "tick_max_s": 0.2, "retry_initial_s": 0.1, "retry_max_s": 0.5}},
    "maintenance": {"maintenance": {"tick_interval_s": 3600, "worker_poll_s": 0.1}},
    "reporting": {
        "reporting": {"rollup_interval_s": 1.0, "forecast_interval_s": 3600, "report_check_interval_s": 3600}
    },
}


@dataclass
class Running:
    name: str
    url: str
    runtime: ServiceRuntime
    app: FastAPI
    settings: ServiceSettings
    redis: redis.Redis
    http: httpx.Client = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def prefix(self) -> str:
        return self.settings.redis.key_prefix

    def redis_state(self) -> dict[bytes, bytes | None]:
        """Every key under the service's prefix with its serialized value (what a refused write must not touch)."""
        keys = sorted(self.redis.scan_iter(match=self.prefix + "*", count=1000))
        return {k: self.redis.dump(k) for k in keys}

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = self.http.get("/metrics").text
        out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def counter(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(v for (n, lab), v in self.metrics().items() if n == name and labels.items() <= dict(lab).items())

    def routes(self) -> list[APIRoute]:
        return [r for r in self.app.routes if isinstance(r, APIRoute)]


Starter = Callable[..., contextlib.AbstractContextManager[Running]]


@pytest.fixture
def secrets() -> dict[str, str]:
    """Every secret the services of :func:`start_service` are given (plus the Redis and SASL passwords)."""
    return dict(SECRETS)


@pytest.fixture
def redis_with_password(redis_settings: RedisSettings) -> Iterator[RedisSettings]:
    """A Redis ACL user whose password is one of the secrets; the service connects with it in the URL."""
    admin = redis.Redis.from_url(redis_settings.url.get_secret_value())
    user = unique("mlmon-sec-")
    password = SECRETS["redis_password"]
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"], commands=["+@all"])
    url = redis_settings.url.get_secret_value().replace("redis://", f"redis://{user}:{password}@", 1)
    try:
        yield RedisSettings(url=SecretStr(url), key_prefix=redis_settings.key_prefix)
    finally:
        admin.acl_deluser(user)
        admin.close()


@pytest.fixture
def start_service(kafka: KafkaSettings, redis_settings: RedisSettings, tmp_path: Path) -> Iterator[Starter]:
    """``with start_service("drift", **overrides) as svc:`` builds and serves one service until the block ends.

    Overrides: ``kafka=`` / ``redis=`` settings, ``options=`` (the service's own group), ``log_level=``."""
    clients: list[redis.Redis] = []

    @contextlib.contextmanager
    def start(name: str, **overrides: Any) -> Iterator[Running]:
        settings_cls, build = _settings_class(name)
        config = tmp_path / f"{unique(name)}.yml"
        config.write_text(yaml.safe_dump(service_config(name, tmp_path)))
        doc: dict[str, Any] = {
            "env": "test",
            "log_level": overrides.pop("log_level", "INFO"),
            "kafka": overrides.pop("kafka", kafka),
            "redis": overrides.pop("redis", redis_settings),
            "http": HttpSettings(port=free_port(), max_body_bytes=MAX_BODY),
            "api_key": API_KEY,
            "config": config,
            **QUIET[name],
            **overrides,
        }
        settings = settings_cls(**doc)
        runtime, app = build(settings)
        client = redis.Redis.from_url(settings.redis.url.get_secret_value())
        clients.append(client)
        try:
            with serve_in_thread(app, settings.http.port) as url, httpx.Client(base_url=url, timeout=30) as http:
                yield Running(name, url, runtime, app, settings, client, http)
        finally:
            for producer in runtime.telemetry.producers:  # drift's stream producer is closed by its run(), not here
                producer.close(5.0)

    yield start
    for client in clients:
        client.close()
