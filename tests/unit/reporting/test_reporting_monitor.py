from datetime import UTC, datetime, timedelta

import pytest

from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.memory_store import InMemorySeriesStore
from mlmon_reporting.monitor import PerformanceMonitor, health
from mlmon_reporting.timeseries import Point

NOW = datetime(2026, 1, 8, 12, tzinfo=UTC)


def _store() -> InMemorySeriesStore:
    store = InMemorySeriesStore()
    for minute in range(1, 121):  # last 2 h, one point a minute
        t = NOW - timedelta(minutes=minute)
        store.write(Point("m", "accuracy", t, 0.96 if minute > 60 else 0.94))
        store.write(Point("m", "latency_p95_s", t, 0.1))
        store.write(Point("m", "resource.cpu_percent", t, 50.0))
        store.write(Point("m", "cpu_percent", t, 99.0))
    store.write(Point("m", "accuracy", NOW - timedelta(days=3), 0.5))
    return store


def test_monitor_metrics_24h_summary_and_breaches() -> None:
    res = PerformanceMonitor(_store(), clock=lambda: NOW).monitor_metrics("m", "24h")
    assert (res.start, res.end, res.resolution_s) == (NOW - timedelta(hours=24), NOW, 60)
    acc = res.summary["accuracy"]
    assert acc is not None
    assert (acc.last, acc.min, acc.max, acc.points, acc.threshold, acc.breached) == (
        0.94,
        0.94,
        0.96,
        120,
        0.95,
        True,
    )
    assert acc.mean == pytest.approx(0.95)
    cpu = res.summary["cpu_usage"]
    assert cpu is not None
    assert (cpu.series, cpu.last, cpu.breached) == ("resource.cpu_percent", 50.0, False)
    assert res.summary["data_drift"] is None
    assert res.breaches == ["accuracy < 0.95"]
    assert {line.series: line.value for line in res.thresholds} == {
        "accuracy": 0.95,
        "latency_p95_s": 0.2,
        "cpu_percent": 80.0,
        "resource.cpu_percent": 80.0,
    }
    assert res.series["accuracy"].t[0] == (NOW - timedelta(minutes=120)).timestamp()
    assert health(res) == "degraded"
    assert health(res, [1]) == "critical"


def test_monitor_metrics_7d_uses_hourly_rollups_and_overrides() -> None:
    cfg = ReportingConfig.model_validate({"overrides": {"m": {"accuracy_min": 0.9}}})
    res = PerformanceMonitor(_store(), cfg, clock=lambda: NOW).monitor_metrics("m", "7d", series=["accuracy"])
    assert res.resolution_s == 3600
    assert res.series["accuracy"].mean == pytest.approx([0.5, 0.96, 0.94])
    assert res.summary["accuracy"] is not None
    assert not res.summary["accuracy"].breached
    assert res.breaches == []


def test_monitor_metrics_unknown_model_and_bad_timeframe() -> None:
    mon = PerformanceMonitor(_store(), clock=lambda: NOW)
    res = mon.monitor_metrics("nobody")
    assert res.series == {}
    assert health(res) == "unknown"
    with pytest.raises(ValueError, match=r"^timeframe: invalid duration 'yesterday'"):
        mon.monitor_metrics("m", "yesterday")
    with pytest.raises(ValueError, match=r"^timeframe: duration '100d' exceeds the maximum of 90 d$"):
        mon.monitor_metrics("m", "100d")


def test_health_is_healthy_without_breaches_or_alerts() -> None:
    store = InMemorySeriesStore()
    store.write(Point("ok", "accuracy", NOW - timedelta(minutes=5), 0.99))
    res = PerformanceMonitor(store, clock=lambda: NOW).monitor_metrics("ok", "1h")
    assert health(res) == "healthy"
    assert health(res, [3]) == "degraded"
