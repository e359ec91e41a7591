"""Events on the five input topics -> the query API returns them; SSE streams new ones; bad input -> 422/404."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from mlmon_common.events import (
    AlertEvent,
    DriftEvent,
    MaintenanceEvent,
    MetricsEvent,
    ResourceEvent,
    Severity,
    utcnow,
)
from mlmon_common.testing import wait_for


def _events(model: str) -> list:
    now = utcnow().replace(second=0, microsecond=0)
    out: list = []
    for i in range(30, 0, -1):
        start = now - timedelta(minutes=i)
        out.append(
            MetricsEvent(
                model_id=model,
                window_start=start,
                window_end=start + timedelta(minutes=1),
                values={"accuracy": 0.97 - i / 1000, "latency_p95_s": 0.1, "count": 100.0},
            )
        )
    out.append(
        ResourceEvent(model_id=model, service="srv", host="h1", cpu_percent=42.0, memory_percent=55.0, occurred_at=now)
    )
    out.append(DriftEvent(model_id=model, kind="feature", state="started", feature="age", detector="ks", score=0.4))
    out.append(DriftEvent(model_id=model, kind="data", state="snapshot", detector="share", score=0.25))
    out.append(
        AlertEvent(
            model_id=model,
            fingerprint=f"fp-{model}",
            alertname="DataDrift",
            status="firing",
            severity=Severity.WARNING,
            labels={"model_id": model},
            annotations={"summary": "age drifts"},
            starts_at=now,
        )
    )
    out.append(
        MaintenanceEvent(model_id=model, plan_id="plan-1", state="succeeded", actions=["retrain"], reason="drift")
    )
    return out


def test_events_on_every_topic_are_served_by_the_query_api(reporting_service) -> None:
    svc = reporting_service()
    events = _events("churn")
    svc.publish(events)
    svc.publish(events[:5] + events[-3:])  # redelivered: nothing may be counted twice
    http = svc.http

    def stored() -> dict | None:
        r = http.get("/v1/models/churn/metrics", params={"timeframe": "1h"})
        body = r.json() if r.status_code == 200 else None
        ok = (
            body
            and len(body["series"].get("accuracy", {}).get("t", [])) == 30
            and "resource.cpu_percent" in body["series"]
        )
        return body if ok else None

    body = wait_for(stored, 30, "metrics of churn stored")
    assert body["summary"]["accuracy"]["last"] == 0.969
    assert body["summary"]["accuracy"]["breached"] is False
    assert body["summary"]["cpu_usage"]["last"] == 42.0
    assert body["series"]["resource.cpu_percent"]["max"] == [42.0]  # the duplicate was not merged twice
    assert body["resolution_s"] == 60

    wait_for(lambda: http.get("/v1/alerts").json()["alerts"], 30, "alert stored")
    alerts = http.get("/v1/alerts", params={"model_id": "churn", "status": "firing"}).json()["alerts"]
    assert [(a["alertname"], a["severity"], a["summary"]) for a in alerts] == [("DataDrift", 2, "age drifts")]
    models = wait_for(lambda: http.get("/v1/models").json()["models"], 30, "model list")
    assert [(m["model_id"], m["status"], m["firing_alerts"]) for m in models] == [("churn", "degraded", 1)]

    wait_for(lambda: http.get("/v1/models/churn/history").json()["items"], 30, "maintenance stored")
    items = http.get("/v1/models/churn/history").json()["items"]
    assert [(i["plan_id"], i["state"], i["actions"]) for i in items] == [("plan-1", "succeeded", ["retrain"])]
    drift = http.get("/v1/models/churn/drift", params={"timeframe": "6h"}).json()
    assert drift["features"] == ["age"]
    assert drift["scores"] == [[0.4]]
    assert drift["data_drift"]["max"] == [0.25]

    dash = http.get("/v1/models/churn/dashboard").json()
    assert dash["schema"] == "mlmon.dashboard.v1"
    assert "accuracy" in [p["id"] for p in dash["panels"]]
    assert http.get("/v1/models/churn/trends", params={"window": "1h"}).json()["trends"]["accuracy"]["points"] == 30
    assert http.get("/v1/grafana/dashboard.json").json()["uid"] == "mlmon-services"
    page = http.get("/")
    assert page.status_code == 200
    assert "mlmon dashboard" in page.text
    for asset in ("/app.js", "/style.css", "/vendor/uplot/uPlot.iife.min.js", "/static/vendor/uplot/uPlot.min.css"):
        assert http.get(asset).status_code == 200, asset


def test_bad_query_input_is_refused_naming_the_field(reporting_service) -> None:
    svc = reporting_service()
    svc.publish(_events("m1")[:1])
    http = svc.http
    wait_for(lambda: http.get("/v1/models/m1/metrics").status_code == 200, 30, "m1 stored")
    cases = {
        "/v1/models/m1/metrics?timeframe=yesterday": ("timeframe", "invalid duration 'yesterday'"),
        "/v1/models/m1/metrics?timeframe=365d": ("timeframe", "exceeds the maximum of 90 d"),
        "/v1/models/m1/metrics?timeframe=0h": ("timeframe", "must be positive"),
        "/v1/models/m1/drift?timeframe=abc": ("timeframe", "invalid duration"),
        "/v1/models/m1/trends?window=7x": ("window", "invalid duration '7x'"),
        "/v1/models/m1/dashboard?timeframe=-1h": ("timeframe", "invalid duration"),
    }
    for url, (field, message) in cases.items():
        r = http.get(url)
        assert r.status_code == 422, url
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["query", field], (url, detail)
        assert message in detail["msg"], (url, detail)
    for url, field in {
        "/v1/alerts?status=burning": "status",
        "/v1/reports/monthly": "report_type",
        "/v1/reports/daily?format=pdf": "format",
        "/v1/reports/daily?end=2026-01-01T00:00:00": "end",
        "/v1/alerts?limit=0": "limit",
    }.items():
        r = http.get(url)
        assert r.status_code == 422, url
        assert r.json()["detail"][0]["loc"][-1] == field, (url, r.text)
    r = http.get("/v1/models/nope/metrics")
    assert r.status_code == 404
    assert "nope" in r.json()["detail"]
    r = http.get("/v1/reports/daily", params={"model": "nope"})
    assert r.status_code == 404
    assert "model: no data for nope" in r.json()["detail"]
    assert http.get("/v1/reports/stored/daily/123").status_code == 404


def test_stream_sends_events_published_after_connecting(reporting_service) -> None:
    svc = reporting_service()
    svc.publish(_events("warmup")[:1])
    wait_for(lambda: svc.http.get("/v1/models/warmup/metrics").status_code == 200, 30, "consumer running")
    alert = AlertEvent(
        model_id="live",
        fingerprint="fp-live",
        alertname="LatencyHigh",
        status="firing",
        severity=Severity.CRITICAL,
        labels={},
        starts_at=utcnow(),
    )
    with (
        httpx.Client(base_url=svc.url, timeout=httpx.Timeout(30, read=20)) as client,
        client.stream("GET", "/v1/stream") as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        assert next(lines) == "retry: 3000"
        svc.publish([alert])
        frame: dict[str, str] = {}
        for line in lines:
            if line.startswith(("event:", "id:", "data:")):
                key, _, value = line.partition(": ")
                frame[key] = value
            if "data" in frame:
                break
    assert frame["event"] == "alert"
    assert frame["id"] == alert.event_id
    assert json.loads(frame["data"])["alertname"] == "LatencyHigh"
