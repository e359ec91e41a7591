"""Reports of a scripted day from the Redis store: JSON counts, the HTML shows the same numbers, the CLI
writes the same report, scheduled reports are stored and e-mailed; forecast alerts are published once."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from mlmon_common.events import (
    AlertEvent,
    DriftEvent,
    Envelope,
    MaintenanceEvent,
    MetricsEvent,
    ResourceEvent,
    Severity,
    utcnow,
)
from mlmon_common.settings import RedisSettings
from mlmon_common.testing import wait_for
from mlmon_reporting import cli
from mlmon_reporting.report_render import fmt
from mlmon_reporting.reports import MonitoringReports, ReportData

DAY_END = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
DAY_START = DAY_END - timedelta(days=1)


def at(hours: float) -> datetime:
    return DAY_START + timedelta(hours=hours)


def _alert(model: str, fp: str, status: str, sev: Severity, hours: float, started: float) -> AlertEvent:
    return AlertEvent(
        model_id=model,
        fingerprint=fp,
        alertname="LowAccuracy" if sev != Severity.CRITICAL else "ErrorRateHigh",
        status=status,  # type: ignore[arg-type]
        severity=sev,
        labels={"model_id": model},
        annotations={"summary": f"{fp} {status}"},
        starts_at=at(started),
        ends_at=at(hours) if status == "resolved" else None,
        occurred_at=at(hours),
    )


def scripted_day() -> list[Envelope]:
    """Two models over one UTC day: 10-min windows, 3 incidents (1 open), 3 drift onsets, 2 plans."""
    out: list[Envelope] = []
    for i in range(144):
        start = at(i / 6)
        for model, acc in (("alpha", 0.97), ("beta", 0.90 + (i % 2) / 100)):
            out.append(
                MetricsEvent(
                    model_id=model,
                    window_start=start,
                    window_end=start + timedelta(minutes=10),
                    values={"accuracy": acc, "latency_p95_s": 0.12, "error_rate": 0.01, "count": 50.0},
                )
            )
        if i % 6 == 0:
            out.append(
                ResourceEvent(
                    model_id="alpha",
                    service="s",
                    host="h",
                    cpu_percent=30.0 + i / 10,
                    memory_percent=50,
                    occurred_at=start,
                )
            )
    out.append(
        MetricsEvent(  # a revised window replaces the first one of alpha
            model_id="alpha",
            window_start=at(0),
            window_end=at(1 / 6),
            revision=1,
            values={"accuracy": 0.97, "count": 50.0},
        )
    )
    out += [
        _alert("beta", "b1", "firing", Severity.WARNING, 2, 2),
        _alert("beta", "b1", "resolved", Severity.WARNING, 2.5, 2),
        _alert("beta", "b2", "firing", Severity.CRITICAL, 20, 20),
        _alert("alpha", "a1", "firing", Severity.WARNING, 5, 5),
        _alert("alpha", "a1", "resolved", Severity.WARNING, 6, 5),
    ]
    for feature, h in (("age", 3), ("income", 4)):
        out.append(
            DriftEvent(
                model_id="beta",
                kind="feature",
                state="started",
                feature=feature,
                detector="ks",
                score=0.3,
                occurred_at=at(h),
            )
        )
    out.append(
        DriftEvent(model_id="beta", kind="data", state="started", detector="share", score=0.4, occurred_at=at(4))
    )
    out.append(
        DriftEvent(model_id="beta", kind="data", state="snapshot", detector="share", score=0.2, occurred_at=at(8))
    )
    for state, h in (("proposed", 9), ("running", 10), ("succeeded", 11)):
        out.append(MaintenanceEvent(model_id="beta", plan_id="p1", state=state, actions=["retrain"], occurred_at=at(h)))  # type: ignore[arg-type]
    out.append(
        MaintenanceEvent(model_id="alpha", plan_id="p2", state="failed", actions=["rollback"], occurred_at=at(12))
    )
    return out


def _fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<span data-field="([^"]+)">([^<]*)</span>', html))


@pytest.fixture
def loaded(reporting_service):
    svc = reporting_service()
    events = scripted_day()
    svc.publish(events)
    svc.publish(events[-12:])  # redelivery of the alert/drift/maintenance tail: deduped
    end = DAY_END.isoformat()

    def complete() -> dict | None:
        r = svc.http.get("/v1/reports/daily", params={"end": end})
        doc = r.json() if r.status_code == 200 else None
        return doc if doc and doc["maintenance"]["plans"] == 2 and doc["incidents"]["total"] == 3 else None

    wait_for(complete, 40, "scripted day stored")
    return svc, events


def test_report_of_a_scripted_day_counts_and_html_agree(loaded) -> None:
    svc, events = loaded
    doc = svc.http.get("/v1/reports/daily", params={"end": DAY_END.isoformat()}).json()
    assert doc["period"] == {"start": DAY_START.isoformat(), "end": DAY_END.isoformat()}
    assert doc["fleet"] == {"models": 2, "healthy": 1, "critical": 1}
    inc = doc["incidents"]
    assert (inc["total"], inc["open"], inc["resolved"]) == (3, 1, 2)
    assert inc["by_severity"] == {"critical": 1, "warning": 2, "info": 0}
    assert inc["mttr_s"] == 2700.0  # 30 min and 60 min
    assert doc["drift"]["started"] == 3
    assert doc["drift"]["by_kind"] == {"data": 1, "feature": 2}
    assert doc["drift"]["by_model"]["beta"]["max_data_drift"] == 0.4
    maint = doc["maintenance"]
    assert (maint["plans"], maint["succeeded"], maint["failed"]) == (2, 1, 1)
    by_model = {m["model_id"]: m for m in doc["models"]}
    assert by_model["alpha"]["metrics"]["accuracy"]["mean"] == pytest.approx(0.97)
    assert by_model["beta"]["metrics"]["accuracy"]["mean"] == pytest.approx(0.905)
    assert by_model["beta"]["alerts_fired"] == 2
    assert by_model["beta"]["status"] == "critical"
    assert by_model["alpha"]["metrics"]["cpu_usage"]["max"] == pytest.approx(43.8)

    # The Redis-backed report equals the in-memory replay of the same events (nothing lost or doubled).
    data = ReportData.from_events(events, DAY_START, DAY_END)
    expected = MonitoringReports().generate_report(data, "daily", generated_at=DAY_END).data
    assert {k: v for k, v in doc.items() if k != "generated_at"} == {
        k: v for k, v in json.loads(json.dumps(expected)).items() if k != "generated_at"
    }

    html = svc.http.get("/v1/reports/daily", params={"end": DAY_END.isoformat(), "format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    shown = _fields(html.text)
    assert shown["incidents.total"] == "3"
    assert shown["incidents.open"] == "1"
    assert shown["fleet.models"] == "2"
    assert shown["drift.started"] == fmt(doc["drift"]["started"])
    assert shown["maintenance.succeeded"] == "1"
    assert shown["maintenance.failed"] == "1"
    assert "<svg" in html.text
    assert "<script" not in html.text
    md = svc.http.get("/v1/reports/daily", params={"end": DAY_END.isoformat(), "format": "md"}).text
    assert "Total 3 (critical 1, warning 2, info 0); open 1; resolved 2" in md


def test_cli_writes_the_same_report(loaded, redis_settings: RedisSettings, tmp_path, monkeypatch, capsys) -> None:
    svc, _ = loaded
    monkeypatch.setenv("MLMON_REDIS_URL", redis_settings.url.get_secret_value())
    monkeypatch.setenv("MLMON_REDIS_KEY_PREFIX", redis_settings.key_prefix)
    out = tmp_path / "beta.json"
    argv = ["report", "daily", "--model", "beta", "--format", "json", "--out", str(out), "--end", DAY_END.isoformat()]
    assert cli.main(argv) == 0
    doc = json.loads(out.read_text())
    assert [m["model_id"] for m in doc["models"]] == ["beta"]
    assert doc["incidents"]["total"] == 2
    api = svc.http.get("/v1/reports/daily", params={"end": DAY_END.isoformat(), "model": "beta"}).json()
    assert doc["incidents"] == api["incidents"]
    assert doc["models"] == api["models"]
    assert cli.main(["report", "weekly", "--model", "nope"]) == 2
    assert "model: no data for nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["report", "daily", "--end", "2026-01-01T00:00:00"])
    assert "--end: needs a UTC offset" in capsys.readouterr().err


def test_scheduled_reports_are_stored_and_emailed(reporting_service, smtp_sink) -> None:
    email = {
        "host": "127.0.0.1",
        "port": smtp_sink.port,
        "sender": "mlmon@example.org",
        "to": ["ops@example.org"],
        "starttls": False,
    }
    svc = reporting_service({"email": email})
    svc.publish(scripted_day())
    wait_for(lambda: svc.http.get("/v1/models").json()["models"], 30, "models stored")
    wait_for(lambda: len(svc.http.get("/v1/alerts").json()["alerts"]) == 3, 30, "alerts stored")
    made = svc.app.state.timers.run_now("reports")
    assert len(made) == 2
    assert svc.app.state.timers.run_now("reports") == []  # made once per period
    subjects = sorted(m["Subject"] for m in smtp_sink.messages)
    assert len(subjects) == 2
    assert "daily report" in subjects[0]
    assert "weekly report" in subjects[1]
    daily = next(m for m in smtp_sink.messages if "daily" in m["Subject"])
    assert daily["To"] == "ops@example.org"
    parts = {p.get_content_type(): p for p in daily.walk()}
    assert {"text/plain", "text/html", "application/json"} <= set(parts)
    attached = json.loads(parts["application/json"].get_payload(decode=True))
    assert attached["report_type"] == "daily"
    assert attached["incidents"]["total"] == 3
    stored = svc.http.get("/v1/reports").json()["reports"]
    assert sorted(r["report_type"] for r in stored) == ["daily", "weekly"]
    page = svc.http.get(next(r["url"] for r in stored if r["report_type"] == "daily"))
    assert page.status_code == 200
    assert _fields(page.text)["incidents.total"] == "3"


def test_forecast_alerts_are_published_once_and_shown(reporting_service) -> None:
    svc = reporting_service()
    now = utcnow().replace(second=0, microsecond=0)
    decline = []
    for h in range(40, -1, -1):  # accuracy 0.99 -> 0.96 over 40 h: crosses 0.95 in about 13 h
        start = now - timedelta(hours=h)
        decline.append(
            MetricsEvent(
                model_id="falling",
                window_start=start,
                window_end=start + timedelta(minutes=1),
                values={"accuracy": 0.96 + 0.03 * h / 40},
            )
        )
    svc.publish(decline)
    wait_for(lambda: svc.http.get("/v1/models").json()["models"], 30, "model stored")
    wait_for(
        lambda: len(svc.http.get("/v1/models/falling/metrics").json()["series"]["accuracy"]["t"]) >= 24, 30, "24 h"
    )
    sent = svc.app.state.forecaster.run()
    assert [(e.alertname, e.severity, e.labels["metric"]) for e in sent] == [
        ("MetricForecastCrossing", Severity.WARNING, "accuracy")
    ]
    assert "accuracy expected to fall below 0.95" in sent[0].annotations["summary"]
    assert svc.app.state.forecaster.run() == []  # unchanged forecast: deduped
    alerts = wait_for(lambda: svc.http.get("/v1/alerts", params={"model_id": "falling"}).json()["alerts"], 30, "shown")
    assert alerts[0]["alertname"] == "MetricForecastCrossing"
    assert alerts[0]["severity"] == 2
