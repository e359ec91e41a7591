import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from mlmon_reporting.api_shapes import MetricsResponse, SeriesData
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.dashboard import MonitoringDashboard
from mlmon_reporting.grafana import grafana_dashboard

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _response(*series: str) -> MetricsResponse:
    d = SeriesData(t=[0.0], mean=[1.0], min=[1.0], max=[1.0], last=[1.0])
    return MetricsResponse(
        model_id="churn",
        timeframe="24h",
        start=NOW - timedelta(days=1),
        end=NOW,
        resolution_s=60,
        summary={},
        series=dict.fromkeys(series, d),
        thresholds=[],
    )


def _thresholds(cfg: dict) -> dict[str, list[tuple[float, str]]]:
    return {
        p["id"]: [(t["value"], t["direction"]) for t in p["thresholds"]] for p in cfg["panels"] if "thresholds" in p
    }


def test_template_has_every_core_panel_with_seed_threshold_lines() -> None:
    cfg = MonitoringDashboard().generate_dashboard({}, "24h")
    assert cfg["schema"] == "mlmon.dashboard.v1"
    assert cfg["live"] == {"transport": "sse", "url": "/v1/stream"}
    assert [p["id"] for p in cfg["panels"]] == [
        "health",
        "accuracy",
        "latency",
        "error_rate",
        "throughput",
        "cpu",
        "memory",
        "disk",
        "data_drift",
        "model_drift",
        "feature_drift",
        "alerts",
        "maintenance",
    ]
    assert _thresholds(cfg) == {
        "accuracy": [(0.95, "min")],
        "latency": [(0.2, "max")],
        "error_rate": [(0.05, "max")],
        "throughput": [],
        "cpu": [(80.0, "max")],
        "memory": [(85.0, "max")],
        "disk": [(90.0, "max")],
        "data_drift": [(0.1, "max")],
        "model_drift": [(0.15, "max")],
    }
    json.dumps(cfg)


def test_panels_follow_present_series_and_model_overrides() -> None:
    cfg = ReportingConfig.model_validate({"overrides": {"churn": {"accuracy_min": 0.9}}})
    out = MonitoringDashboard(cfg).generate_dashboard(
        _response("accuracy", "resource.cpu_percent", "feature_drift.age", "feature_drift.city"), "7d"
    )
    assert out["title"] == "mlmon: churn"
    assert [p["id"] for p in out["panels"]] == ["health", "accuracy", "cpu", "feature_drift", "alerts", "maintenance"]
    assert _thresholds(out)["accuracy"] == [(0.9, "min")]
    assert out["panels"][3]["features"] == ["age", "city"]


def test_layout_is_non_overlapping_on_a_24_column_grid() -> None:
    panels = MonitoringDashboard().generate_dashboard({}, "24h")["panels"]
    cells = set()
    for p in panels:
        g = p["grid"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["id"]
                cells.add((x, y))
    assert panels[1]["grid"] == {"x": 0, "y": 4, "w": 12, "h": 8}
    assert panels[2]["grid"] == {"x": 12, "y": 4, "w": 12, "h": 8}


def test_bad_timeframe_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^timeframe: invalid duration '1 day'"):
        MonitoringDashboard().generate_dashboard({}, "1 day")


def test_grafana_dashboard_queries_every_service_metric() -> None:
    dash = grafana_dashboard()
    text = json.dumps(dash)
    for metric in (
        "mlmon_consumed_total",
        "mlmon_produced_total",
        "mlmon_deadlettered_total",
        "mlmon_handler_seconds_bucket",
        "mlmon_consumer_lag",
        "mlmon_ready",
    ):
        assert metric in text
    ids = [p["id"] for p in dash["panels"]]
    assert ids == list(range(1, 9))
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert all('service=~"$service"' in e for e in exprs)
    assert "histogram_quantile(0.95, sum by (le, service) (rate(mlmon_handler_seconds_bucket" in text
    for e in exprs:  # balanced brackets
        assert e.count("(") == e.count(")")
        assert e.count("{") == e.count("}")
        assert e.count("[") == e.count("]")
    assert [v["name"] for v in dash["templating"]["list"]] == ["datasource", "service"]
    cells = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells
                cells.add((x, y))
    assert re.fullmatch(r"[a-z-]+", dash["uid"])
