"""The HTTP chassis in-process: API key, body limit, probes that fail without 500s."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlmon_common.http import Probes, api_key_dependency, create_app
from mlmon_common.settings import HttpSettings, ServiceSettings
from mlmon_common.telemetry import ServiceTelemetry


def _client(api_key: str | None = "k" * 20, max_body: int = 2048) -> tuple[TestClient, Probes]:
    settings = ServiceSettings(
        api_key=SecretStr(api_key) if api_key else None, http=HttpSettings(max_body_bytes=max_body)
    )
    router = APIRouter()

    @router.post("/v1/things", dependencies=[Depends(api_key_dependency(settings))])
    def post(body: dict[str, int]) -> dict[str, int]:
        return {"n": len(body)}

    probes = Probes()
    app = create_app(service="t", settings=settings, telemetry=ServiceTelemetry("t"), probes=probes, routers=[router])
    return TestClient(app), probes


def test_writes_need_the_api_key() -> None:
    client, _ = _client()
    assert client.post("/v1/things", json={"a": 1}).status_code == 401
    assert client.post("/v1/things", json={"a": 1}, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/v1/things", json={"a": 1}, headers={"X-API-Key": "k" * 20}).json() == {"n": 1}
    assert client.post("/v1/things", json={"a": 1}, headers={"Authorization": "Bearer " + "k" * 20}).status_code == 200


def test_no_configured_key_disables_writes() -> None:
    client, _ = _client(api_key=None)
    resp = client.post("/v1/things", json={}, headers={"X-API-Key": "anything"})
    assert resp.status_code == 503
    assert "no MLMON_API_KEY" in resp.json()["detail"]


def test_oversized_body_is_413() -> None:
    client, _ = _client(max_body=1024)
    resp = client.post("/v1/things", content=b"{" + b" " * 2000 + b"}", headers={"X-API-Key": "k" * 20})
    assert resp.status_code == 413
    assert resp.json() == {"detail": "request body exceeds the limit of 1024 bytes"}


def test_probe_exceptions_are_failed_checks() -> None:
    client, probes = _client()

    def boom() -> tuple[bool, str]:
        raise ConnectionError("redis down")

    probes.readiness["redis"] = boom
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json() == {"ready": False, "checks": {"redis": "ConnectionError: redis down"}}
    assert client.get("/healthz").status_code == 200
    assert 'mlmon_ready{service="t"} 0.0' in client.get("/metrics").text


def test_metrics_expose_the_producer_counters() -> None:
    client, _ = _client()
    text = client.get("/metrics").text
    for name in ("mlmon_produce_dropped_total", "mlmon_producer_resets_total"):
        assert f'{name}{{service="t"}} 0.0' in text, name
    assert 'mlmon_handler_batch_size_bucket{le="5000.0",service="t"}' in text  # up to the collector's 5,000
