"""Security checks of every service, built and served as in production (real broker, Redis, HTTP):

- every write route (POST/PUT/PATCH/DELETE, read from the live OpenAPI and from the app's routes) answers 401
  without a key, with a wrong key and with a wrong bearer token, and writes nothing (Redis keys under the
  service's prefix and produced-record counters unchanged);
- request bodies above ``MLMON_HTTP_MAX_BODY_BYTES`` get 413 (declared or streamed) on every service;
- no secret (API key, SMTP passwords, Kafka SASL password, Redis password in the URL, webhook/PagerDuty secrets)
  appears in the JSON logs, in ``/metrics`` or in any read endpoint;
- ``MLMON_ENV=prod`` refuses a placeholder API key at start-up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import SecretStr, ValidationError

from mlmon_common import topics
from mlmon_common.events import MetricsEvent, utcnow
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import KafkaSettings, RedisSettings, ServiceSettings
from mlmon_common.testing import wait_for

SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")
API_KEY = "sec-api-key-7f3a9c51e2b84d06"  # the values of conftest.py (test modules cannot import it)
WRONG_KEY = "sec-wrong-key-0000000000000000"
MAX_BODY = 64 * 1024
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: POST routes that compute an answer from the request alone and store nothing: open by design (docs/drift.md).
#: The test still proves they write nothing without a key.
STATELESS_POSTS = {("drift", "POST", "/v1/drift/detect"), ("drift", "POST", "/v1/models/{model_id}/model-drift")}
#: Authenticated by an HMAC signature of the body (the external job system has no API key), not by the API key.
SIGNED_POSTS = {("maintenance", "POST", "/v1/callbacks/webhook")}


# -- helpers -------------------------------------------------------------------------------------------------


def openapi_operations(http: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    spec = http.get("/openapi.json").json()
    return [(m.upper(), path, op) for path, ops in spec["paths"].items() for m, op in ops.items()]


def app_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute of the app, hidden ones included (routers are included without an extra prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.16x includes routers lazily
        if inner is not None:
            yield from app_routes(inner.routes)


def fill_path(path: str, op: dict[str, Any]) -> str:
    """A concrete URL for a templated path: enum values where the schema has them, else plausible ids."""
    values: dict[str, str] = {}
    for param in op.get("parameters", []):
        if param.get("in") == "path":
            schema = param.get("schema", {})
            enum = schema.get("enum") or [v for s in schema.get("anyOf", []) for v in s.get("enum", [])]
            values[param["name"]] = str(enum[0]) if enum else "m1"
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "m1"), path)


def write_operations(svc: Any) -> list[tuple[str, str, str]]:
    """(method, template, concrete url) of every write route; hidden write routes fail the test."""
    ops = openapi_operations(svc.http)
    documented = {(m, p) for m, p, _ in ops if m in WRITE_METHODS}
    actual = {(m, r.path) for r in app_routes(svc.app.routes) for m in (r.methods or set()) & WRITE_METHODS}
    assert actual == documented, f"write routes missing from the OpenAPI: {actual - documented}"
    return [(m, p, fill_path(p, op)) for m, p, op in ops if m in WRITE_METHODS]


def produced(svc: Any) -> float:
    return svc.counter("mlmon_produced_total")


def assert_reason(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.status_code, resp.text)
    body = resp.json()
    assert body.get("detail"), f"{status} without a reason: {resp.text}"
    return body  # type: ignore[no-any-return]


# -- 1. API keys on every write route ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_every_write_route_refuses_missing_and_wrong_keys(start_service: Any, name: str) -> None:
    with start_service(name) as svc:
        writes = write_operations(svc)
        if name == "reporting":
            assert writes == [], "reporting is read-only: a new write route needs a key check and this test"
        state, sent = svc.redis_state(), produced(svc)
        bad_credentials: list[dict[str, str]] = [
            {},
            {"X-API-Key": WRONG_KEY},
            {"Authorization": f"Bearer {WRONG_KEY}"},
            {"X-API-Key": ""},
            {"X-API-Key": API_KEY[:-1]},  # a prefix of the key is not the key
            {"Authorization": API_KEY},  # the key without the Bearer scheme
        ]
        for method, template, url in writes:
            if (name, method, template) in STATELESS_POSTS:
                svc.http.request(method, url, json={})  # open by design; must not write (checked below)
                continue
            for headers in bad_credentials:
                resp = svc.http.request(method, url, json={}, headers=headers)
                if (name, method, template) in SIGNED_POSTS:
                    assert_reason(resp, 401)  # no/forged X-Mlmon-Signature
                    continue
                body = assert_reason(resp, 401)
                assert body["detail"] == "missing or wrong API key", (method, url)
                assert resp.headers.get("www-authenticate") == "Bearer"
        assert svc.redis_state() == state, "a refused request changed Redis"
        assert produced(svc) == sent, "a refused request produced records"
        # positive control: the right key passes the check (the answer may be 4xx for the empty body, not 401)
        for method, template, url in writes:
            if (name, method, template) in STATELESS_POSTS | SIGNED_POSTS:
                continue
            for headers in ({"X-API-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}):
                resp = svc.http.request(method, url, json={}, headers=headers)
                assert resp.status_code != 401, (method, url, resp.text)
                assert resp.status_code < 500, (method, url, resp.status_code, resp.text)


def test_writes_are_disabled_without_a_configured_key(start_service: Any) -> None:
    with start_service("collector", api_key=None) as svc:
        state = svc.redis_state()
        for headers in ({}, {"X-API-Key": API_KEY}, {"X-API-Key": "anything"}):
            resp = svc.http.put("/v1/models/m1", json={"task": "classification"}, headers=headers)
            assert assert_reason(resp, 503)["detail"] == "writes are disabled: no MLMON_API_KEY configured"
        assert svc.redis_state() == state


# -- 2. request size limits --------------------------------------------------------------------------------


#: Routes that read the raw body themselves, per service (a streamed body is counted as it is read).
RAW_BODY_ROUTES = {
    "collector": [("POST", "/v1/predictions"), ("POST", "/v1/labels")],
    "drift": [("PUT", "/v1/models/m1/reference")],
    "maintenance": [("POST", "/v1/callbacks/webhook")],
}
AUTH_JSON = {"X-API-Key": API_KEY, "Content-Type": "application/json"}


def _chunks() -> Iterator[bytes]:
    """A body above the limit sent without Content-Length (chunked)."""
    for _ in range(MAX_BODY // 4096 + 2):
        yield b" " * 4096


@pytest.mark.parametrize("name", SERVICES)
def test_request_bodies_above_the_limit_get_413(start_service: Any, name: str) -> None:
    with start_service(name) as svc:
        writes = write_operations(svc)
        targets = [(m, u) for m, _, u in writes] or [("POST", "/v1/models")]  # reporting: no write route
        targets.append(("GET", "/healthz"))  # the declared length is checked before routing, for every path
        state = svc.redis_state()
        too_big = b"[" + b" " * MAX_BODY + b"]"
        for method, url in targets:
            resp = svc.http.request(method, url, content=too_big, headers=AUTH_JSON)
            detail = assert_reason(resp, 413)["detail"]
            assert detail == f"request body exceeds the limit of {MAX_BODY} bytes"
        for method, url in RAW_BODY_ROUTES.get(name, []):
            assert_reason(svc.http.request(method, url, content=_chunks(), headers=AUTH_JSON), 413)
        assert svc.redis_state() == state, "a rejected oversized request changed Redis"
        method, url = targets[0]  # exactly at the limit is not refused for its size
        at_limit = b"[" + b" " * (MAX_BODY - 2) + b"]"
        resp = svc.http.request(method, url, content=at_limit, headers=AUTH_JSON)
        assert resp.status_code != 413, resp.text
        assert resp.status_code < 500, resp.text


def test_streamed_body_above_the_limit_gets_413_on_json_model_routes(start_service: Any) -> None:
    with start_service("alerting") as svc:
        resp = svc.http.post("/v1/silences", content=_chunks(), headers=AUTH_JSON)
        assert_reason(resp, 413)


# -- 3. no secret in logs, /metrics or read endpoints ------------------------------------------------------


def _fire_alert(kafka: KafkaSettings) -> None:
    """A metrics event far below the accuracy threshold: an alert to the receivers that carry secrets."""
    now = utcnow()
    event = MetricsEvent(
        model_id="sec-model", window_start=now - timedelta(minutes=1), window_end=now, values={"accuracy": 0.1}
    )
    producer = EventProducer(kafka, client_id="security-test")
    try:
        producer.send(topics.METRICS.name, event)
        assert producer.flush(10) == 0
    finally:
        producer.close()


def _exercise(svc: Any, name: str, kafka: KafkaSettings, capture: Callable[[], str]) -> str:
    """Drive the service through writes, refused writes, every read route and the failure paths that log."""
    texts: list[str] = []
    for method, _template, url in write_operations(svc):
        for headers in ({"X-API-Key": API_KEY}, {"X-API-Key": WRONG_KEY}, {}):
            texts.append(svc.http.request(method, url, json={}, headers=headers).text)
    for method, path, op in openapi_operations(svc.http):
        if method == "GET" and not path.endswith("stream"):  # SSE streams never end
            texts.append(svc.http.get(fill_path(path, op)).text)
    if name == "alerting":  # deliveries to an SMTP server with auth and to PagerDuty fail and are logged
        wait_for(lambda: svc.runtime.probes.ready()[0], 30, "alerting consumer assigned")
        _fire_alert(kafka)
        wait_for(
            lambda: all(f"oncall/{i} failed" in capture() for i in ("email", "pagerduty")),
            30,
            "failed deliveries to the receivers that hold secrets",
            interval_s=0.2,
        )
        texts.append(svc.http.get("/v1/receivers/outbox").text)
    if name == "reporting":
        texts.append(svc.http.get("/v1/reports/daily").text)
    texts.append(svc.http.get("/metrics").text)
    return "\n".join(texts)


@pytest.mark.parametrize("name", SERVICES)
def test_no_secret_in_logs_metrics_or_read_endpoints(
    start_service: Any,
    name: str,
    kafka: KafkaSettings,
    redis_with_password: RedisSettings,
    secrets: dict[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    sasl = kafka.model_copy(
        update={"sasl_username": "mlmon", "sasl_password": SecretStr(secrets["kafka_sasl_password"])}
    )
    capfd.readouterr()
    captured: list[str] = []

    def capture() -> str:
        out, err = capfd.readouterr()
        captured.extend((out, err))
        return "".join(captured)

    with start_service(name, kafka=sasl, redis=redis_with_password, log_level="DEBUG") as svc:
        assert svc.http.get("/readyz").json()["checks"]["redis"] == "ok"  # connected with the password
        served = _exercise(svc, name, kafka, capture)
    logged = capture()
    records = [json.loads(line) for line in logged.splitlines() if line.startswith('{"ts"')]
    effective = [r for r in records if r.get("msg") == "effective configuration" and r.get("service") == name]
    assert effective, "the JSON logs were not captured"
    assert effective[0]["settings"]["kafka"]["sasl_password"] == "**********"
    assert effective[0]["settings"]["redis"]["url"] == "**********"
    for what, secret in secrets.items():
        assert secret not in logged, f"{what} appears in the {name} logs"
        assert secret not in served, f"{what} appears in a {name} HTTP answer or /metrics"


def test_secret_librdkafka_properties_in_kafka_extra_are_not_logged(
    start_service: Any, kafka: KafkaSettings, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "oauth-client-secret-61d0c2aa"
    extra = kafka.model_copy(update={"extra": {"sasl.oauthbearer.client.secret": secret}})
    capfd.readouterr()
    with start_service("collector", kafka=extra):
        pass
    out, err = capfd.readouterr()
    assert secret not in out + err


# -- 4. prod refuses placeholder keys ----------------------------------------------------------------------


def _settings_classes() -> dict[str, type[ServiceSettings]]:
    from mlmon_alerting.settings import AlertingSettings
    from mlmon_collector.settings import CollectorSettings
    from mlmon_drift.settings import DriftSettings
    from mlmon_maintenance.settings import MaintenanceSettings
    from mlmon_reporting.settings import ReportingSettings

    return {
        "collector": CollectorSettings,
        "drift": DriftSettings,
        "alerting": AlertingSettings,
        "maintenance": MaintenanceSettings,
        "reporting": ReportingSettings,
    }


@pytest.mark.parametrize("name", SERVICES)
def test_prod_refuses_a_placeholder_api_key_at_start_up(name: str, infra: tuple[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLMON_")}
    env |= {
        "MLMON_ENV": "prod",
        "MLMON_API_KEY": "changeme",
        "MLMON_KAFKA_BOOTSTRAP": infra[0],
        "MLMON_REDIS_URL": infra[1],
        "MLMON_HTTP_PORT": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", f"mlmon_{name}"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0, f"mlmon_{name} started in prod with a placeholder key:\n{proc.stdout[-2000:]}"
    assert "MLMON_API_KEY must be set to a real secret" in proc.stderr + proc.stdout
    assert "changeme" not in proc.stdout  # the refused value is not echoed into the JSON logs

    cls = _settings_classes()[name]
    for placeholder in (None, "", "changeme", "dev-key", "SECRET", "short-key-15chr"):
        with pytest.raises(ValidationError, match="MLMON_API_KEY must be set to a real secret"):
            cls(env="prod", api_key=placeholder)  # type: ignore[arg-type]
    assert cls(env="prod", api_key=API_KEY).api_key.get_secret_value() == API_KEY  # type: ignore[arg-type,union-attr]
    assert cls(env="dev", api_key="changeme").env == "dev"  # type: ignore[arg-type]


# -- 5. failure paths: a refused Redis password -----------------------------------------------------------


def _refused_redis(redis_settings: RedisSettings, password: str) -> RedisSettings:
    url = redis_settings.url.get_secret_value().replace("redis://", f"redis://nobody:{password}@", 1)
    return RedisSettings(url=SecretStr(url), key_prefix=redis_settings.key_prefix)


@pytest.mark.parametrize("name", ["collector", "drift", "reporting"])  # alerting/maintenance refuse to start
def test_a_refused_redis_password_is_reported_without_the_password(
    start_service: Any, name: str, redis_settings: RedisSettings, capfd: pytest.CaptureFixture[str]
) -> None:
    password = "refused-redis-pass-70c1d9"
    capfd.readouterr()
    with start_service(name, redis=_refused_redis(redis_settings, password)) as svc:
        ready = svc.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"].startswith("AuthenticationError"), ready.text
        served = ready.text + svc.http.get("/metrics").text
    out, err = capfd.readouterr()
    assert password not in out + err + served


def test_reporting_reads_answer_503_with_a_reason_when_redis_refuses(
    start_service: Any, redis_settings: RedisSettings
) -> None:
    with start_service("reporting", redis=_refused_redis(redis_settings, "refused-redis-pass-70c1d9")) as svc:
        assert_reason(svc.http.get("/v1/models"), 503)
