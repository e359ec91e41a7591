import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mlmon_common.events import AlertEvent, DriftEvent, Envelope, MaintenanceEvent, MetricsEvent, Severity
from mlmon_reporting.report_render import fmt
from mlmon_reporting.reports import MonitoringReports, ReportData

DAY = datetime(2026, 1, 1, tzinfo=UTC)
END = DAY + timedelta(days=1)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def _alert(model: str, fp: str, name: str, sev: Severity, status: str, hours: float, start: float) -> AlertEvent:
    return AlertEvent(
        model_id=model,
        fingerprint=fp,
        alertname=name,
        status=status,
        severity=sev,
        labels={"model_id": model},
        starts_at=at(start),
        occurred_at=at(hours),
        ends_at=at(hours) if status == "resolved" else None,
        annotations={"summary": f"{name} on {model}"},
    )


def scripted_day() -> list[Envelope]:
    events: list[Envelope] = []
    for i in range(144):  # 10-minute windows
        t = DAY + timedelta(minutes=10 * i)
        churn_acc = 0.97 if t < at(12) else 0.93
        for model, acc, lat in (("churn", churn_acc, 0.1), ("fraud", 0.99, 0.15)):
            events.append(
                MetricsEvent(
                    model_id=model,
                    occurred_at=t + timedelta(minutes=10),
                    window_start=t,
                    window_end=t + timedelta(minutes=10),
                    values={"accuracy": acc, "latency_p95_s": lat, "error_rate": 0.01},
                )
            )
    crit, warn, info = Severity.CRITICAL, Severity.WARNING, Severity.INFO
    events += [
        _alert("churn", "old", "Old", crit, "firing", -5, -5),
        _alert("churn", "old", "Old", crit, "resolved", -4, -5),  # before the day: not an incident of it
        _alert("churn", "lat", "HighLatency", crit, "firing", 3, 3),
        _alert("churn", "lat", "HighLatency", crit, "resolved", 3.5, 3),
        _alert("fraud", "dd", "DataDrift", info, "pending", 7.5, 7.5),
        _alert("fraud", "dd", "DataDrift", info, "firing", 8, 8),
        _alert("fraud", "dd", "DataDrift", info, "resolved", 9, 8),
        _alert("churn", "acc", "LowAccuracy", warn, "firing", 12 + 1 / 6, 12 + 1 / 6),
    ]

    def drift(kind: str, state: str, hours: float, score: float, feature: str | None = None) -> DriftEvent:
        return DriftEvent(
            model_id="churn",
            kind=kind,
            state=state,
            feature=feature,
            detector="psi",
            score=score,
            occurred_at=at(hours),
        )

    events += [
        drift("data", "snapshot", 10, 0.05),
        drift("feature", "started", 11, 0.4, "age"),
        drift("feature", "started", 11 + 1 / 12, 0.3, "city"),
        drift("data", "started", 11 + 1 / 6, 0.25),
    ]

    def plan(model: str, pid: str, state: str, hours: float) -> MaintenanceEvent:
        return MaintenanceEvent(model_id=model, plan_id=pid, state=state, actions=["retrain"], occurred_at=at(hours))

    events += [
        plan("churn", "p1", "proposed", 13),
        plan("churn", "p1", "approved", 13.1),
        plan("churn", "p1", "running", 13.2),
        plan("churn", "p1", "succeeded", 14),
        plan("fraud", "p2", "proposed", 15),
        plan("fraud", "p2", "failed", 16),
        plan("fraud", "p3", "proposed", 20),
    ]
    return events


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    data = ReportData.from_events(scripted_day(), DAY, END)
    return MonitoringReports().generate_report(data, "daily")


def test_daily_report_counts_and_figures(report) -> None:  # type: ignore[no-untyped-def]
    doc = report.data
    assert doc["period"] == {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00"}
    assert doc["fleet"] == {"models": 2, "degraded": 1, "healthy": 1}
    churn, fraud = doc["models"]
    assert (churn["model_id"], churn["status"], churn["alerts_fired"]) == ("churn", "degraded", 2)
    assert churn["breaches"] == ["accuracy < 0.95", "data_drift > 0.1"]
    assert churn["metrics"]["data_drift"] == {"mean": 0.15, "min": 0.05, "max": 0.25, "last": 0.25}
    assert churn["metrics"]["accuracy"] == {"mean": pytest.approx(0.95), "min": 0.93, "max": 0.97, "last": 0.93}
    assert churn["metrics"]["latency"] == {"mean": pytest.approx(0.1), "min": 0.1, "max": 0.1, "last": 0.1}
    assert (fraud["status"], fraud["alerts_fired"], fraud["breaches"]) == ("healthy", 1, [])
    acc_trend = next(t for t in churn["trends"] if t["metric"] == "accuracy")
    assert acc_trend["change_points"] == ["2026-01-01T11:50:00+00:00"]
    assert doc["forecasts"] == []  # accuracy already below: threshold alerting's job, not a forecast


def test_daily_report_incidents(report) -> None:  # type: ignore[no-untyped-def]
    inc = report.data["incidents"]
    assert (inc["total"], inc["open"], inc["resolved"]) == (3, 1, 2)
    assert inc["by_severity"] == {"critical": 1, "warning": 1, "info": 1}
    assert inc["mttr_s"] == (1800 + 3600) / 2
    assert [(i["alertname"], i["severity"], i["duration_s"]) for i in inc["items"]] == [
        ("HighLatency", "critical", 1800.0),
        ("DataDrift", "info", 3600.0),
        ("LowAccuracy", "warning", None),
    ]


def test_daily_report_drift_and_maintenance(report) -> None:  # type: ignore[no-untyped-def]
    drift, maint = report.data["drift"], report.data["maintenance"]
    assert (drift["started"], drift["by_kind"]) == (3, {"data": 1, "feature": 2})
    assert drift["by_model"] == {"churn": {"started": 3, "features": ["age", "city"], "max_data_drift": 0.25}}
    assert {k: maint[k] for k in ("plans", "succeeded", "failed", "cancelled", "in_progress")} == {
        "plans": 3,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
        "in_progress": 1,
    }
    assert [(e["plan_id"], e["state"]) for e in maint["items"]] == [
        ("p1", "succeeded"),
        ("p2", "failed"),
        ("p3", "proposed"),
    ]


def _lookup(doc: dict, path: str) -> object:
    node: object = doc
    for part in path.split("."):
        if isinstance(node, list):  # models list, addressed by model id
            node = next(m for m in node if m["model_id"] == part)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def test_html_shows_the_json_numbers_and_is_self_contained(report) -> None:  # type: ignore[no-untyped-def]
    html = report.html
    fields = dict(re.findall(r'<span data-field="([^"]+)">([^<]*)</span>', html))
    assert len(fields) >= 30
    for path, shown in fields.items():
        expected = 0 if path.startswith("fleet.") and path.split(".")[1] not in report.data["fleet"] else None
        value = expected if expected is not None else _lookup(report.data, path)
        if isinstance(value, dict):
            value = None
        assert shown == fmt(value), path
    assert fields["incidents.total"] == "3"
    assert fields["models.churn.metrics.accuracy.mean"] == "0.95"
    assert fields["maintenance.succeeded"] == "1"
    assert html.count("<svg") >= 7  # incidents bar chart + 3 charts per model
    assert 'class="threshold"' in html
    assert not re.search(r"(src|href)=\"?https?:", html)
    assert "<script" not in html


def test_markdown_and_json_renderings(report) -> None:  # type: ignore[no-untyped-def]
    md = report.markdown
    assert md.startswith("# mlmon daily report: 2026-01-01T00:00:00+00:00 to 2026-01-02T00:00:00+00:00\n")
    assert "Total 3 (critical 1, warning 1, info 1); open 1; resolved 2; MTTR 45 min" in md
    assert "| churn | degraded | 0.95 | 0.1 | 0.01 | 0.25 | 2 |" in md
    assert "- churn: 3 started; features: age, city; max data drift 0.25" in md
    assert "Plans 3: succeeded 1, failed 1, cancelled 0, in progress 1" in md
    assert json.loads(report.json) == report.data


def test_weekly_forecast_and_bad_inputs() -> None:
    events = [
        MetricsEvent(
            model_id="m",
            window_start=DAY + timedelta(hours=h),
            window_end=DAY + timedelta(hours=h + 1),
            values={"accuracy": 0.99 - 0.005 * h / 24},
        )
        for h in range(168)
    ]
    end = DAY + timedelta(days=7)
    rep = MonitoringReports().generate_report(ReportData.from_events(events, DAY, end), "weekly")
    assert rep.data["report_type"] == "weekly"
    [fc] = rep.data["forecasts"]
    assert (fc["model_id"], fc["metric"], fc["severity"]) == ("m", "accuracy", "warning")
    assert fc["eta_days"] == pytest.approx(1.0, abs=0.01)  # 0.955 now, -0.005/day
    assert "accuracy expected to fall below 0.95 in ~1 d" in rep.markdown
    assert "accuracy expected to fall below 0.95 in ~1 d" in rep.html
    with pytest.raises(ValueError, match=r"^report_type: expected one of daily, weekly, got 'monthly'$"):
        MonitoringReports().generate_report(ReportData.from_events([], DAY, end), "monthly")
    with pytest.raises(ValidationError, match="period_end must be after period_start"):
        ReportData(period_start=end, period_end=DAY)
