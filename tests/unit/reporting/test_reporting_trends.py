from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mlmon_common.events import Severity
from mlmon_reporting.api_shapes import MetricsResponse, SeriesData
from mlmon_reporting.forecast_alerts import fingerprint, forecast_alert, to_alert_event
from mlmon_reporting.trends import analyze_trends

NOW = datetime(2026, 1, 8, tzinfo=UTC)
HOURS = np.arange(-168, 1)  # 7 days of hourly points, the last one at NOW


def _series(values: np.ndarray) -> list[tuple[datetime, float]]:
    return [(NOW + timedelta(hours=int(h)), float(v)) for h, v in zip(HOURS, values, strict=True)]


def _declining_accuracy(seed: int) -> list[tuple[datetime, float]]:
    """0.97 now, falling 0.01/day: crosses 0.95 in exactly 2 days."""
    noise = np.random.default_rng(seed).normal(0, 0.003, len(HOURS))
    return _series(0.97 - 0.01 * HOURS / 24 + noise)


def test_known_slope_and_crossing_time_within_interval() -> None:
    tr = analyze_trends({"accuracy": _declining_accuracy(0)}, "7d", now=NOW)["accuracy"]
    assert tr.points == 169
    assert tr.slope_per_day == pytest.approx(-0.01, abs=5e-4)
    assert tr.level == pytest.approx(0.97, abs=0.002)
    assert tr.relative_change == pytest.approx(-0.07 / 1.04, abs=0.003)
    assert tr.change_points == []
    assert not tr.seasonal
    fc = tr.forecast
    assert fc is not None
    assert not fc.already_breached
    assert fc.eta_high_days is not None
    assert fc.eta_low_days < 2.0 < fc.eta_high_days
    assert fc.eta_days == pytest.approx(2.0, abs=0.25)
    assert fc.at == NOW + timedelta(days=fc.eta_days)
    assert fc.message.startswith("accuracy expected to fall below 0.95 in ~2 d (")


@pytest.mark.parametrize("seed", range(10))
def test_true_crossing_inside_stated_interval_for_many_noise_draws(seed: int) -> None:
    fc = analyze_trends({"accuracy": _declining_accuracy(seed)}, now=NOW)["accuracy"].forecast
    assert fc is not None
    assert fc.eta_high_days is not None
    assert fc.eta_low_days <= 2.0 <= fc.eta_high_days
    assert fc.eta_high_days - fc.eta_low_days < 1.0


def test_daily_seasonality_is_removed_from_the_trend() -> None:
    noise = np.random.default_rng(1).normal(0, 0.002, len(HOURS))
    hour_of_day = (HOURS % 24).astype(float)  # NOW is midnight UTC
    lat = 0.15 + 0.005 * HOURS / 24 + 0.03 * np.sin(2 * np.pi * hour_of_day / 24) + noise
    tr = analyze_trends({"latency_p95_s": _series(lat)}, "7d", now=NOW)["latency_p95_s"]
    assert tr.seasonal
    assert tr.hourly_profile is not None
    assert tr.hourly_profile[6] == pytest.approx(0.03, abs=0.004)
    assert tr.hourly_profile[18] == pytest.approx(-0.03, abs=0.004)
    assert tr.slope_per_day == pytest.approx(0.005, abs=5e-4)
    fc = tr.forecast
    assert fc is not None
    assert fc.eta_days == pytest.approx(10.0, abs=1.0)
    assert fc.message.startswith("latency_p95_s expected to rise above 0.2 in ~10 d")
    cand = forecast_alert("m", fc)
    assert cand is not None
    assert cand.severity is Severity.INFO


def test_change_point_found_and_forecast_uses_current_regime() -> None:
    noise = np.random.default_rng(2).normal(0, 0.002, len(HOURS))
    err = np.where(HOURS > -48, 0.03, 0.01) + noise
    tr = analyze_trends({"error_rate": _series(err)}, "7d", now=NOW)["error_rate"]
    assert len(tr.change_points) == 1
    cp = tr.change_points[0]
    assert cp.at == NOW - timedelta(hours=48)
    assert cp.shift == pytest.approx(0.02, abs=0.002)
    assert cp.z > 6
    assert tr.level == pytest.approx(0.03, abs=0.002)
    assert abs(tr.slope_per_day) < 0.002


def test_already_breached_and_moving_away() -> None:
    low = _series(0.90 + 0.0 * HOURS)
    tr = analyze_trends({"accuracy": low, "latency_p95_s": _series(0.1 - 0.001 * HOURS / 24)}, now=NOW)
    fc = tr["accuracy"].forecast
    assert fc is not None
    assert fc.already_breached
    assert fc.eta_days == 0.0
    assert fc.message == "accuracy is already below 0.95"
    assert forecast_alert("m", fc) is None
    assert tr["latency_p95_s"].forecast is None  # latency falling: never crosses its max
    assert analyze_trends({"throughput_per_s": low}, now=NOW)["throughput_per_s"].forecast is None


def test_inputs_windows_and_errors() -> None:
    pts = _declining_accuracy(0)
    resp = MetricsResponse(
        model_id="m",
        timeframe="7d",
        start=NOW - timedelta(days=7),
        end=NOW,
        resolution_s=3600,
        summary={},
        series={
            "accuracy": SeriesData(t=[p[0].timestamp() for p in pts], mean=[p[1] for p in pts], min=[], max=[], last=[])
        },
        thresholds=[],
    )
    from_response = analyze_trends(resp, "7d")["accuracy"]  # now = last point
    assert from_response.slope_per_day == analyze_trends({"accuracy": pts}, "7d", now=NOW)["accuracy"].slope_per_day
    assert analyze_trends({"accuracy": pts}, "1d", now=NOW)["accuracy"].points == 25
    assert analyze_trends({"accuracy": pts[:5]}, now=NOW) == {}
    assert analyze_trends({}) == {}
    with pytest.raises(ValueError, match=r"^window: invalid duration 'week'"):
        analyze_trends({"accuracy": pts}, "week")


def test_forecast_alert_severity_and_event() -> None:
    fc = analyze_trends({"accuracy": _declining_accuracy(0)}, now=NOW)["accuracy"].forecast
    assert fc is not None
    cand = forecast_alert("churn", fc)
    assert cand is not None
    assert cand.severity is Severity.WARNING
    assert cand.labels == {
        "alertname": "MetricForecastCrossing",
        "model_id": "churn",
        "metric": "accuracy",
        "source": "reporting",
    }
    assert cand.annotations["summary"] == fc.message
    assert forecast_alert("churn", fc, warning_within=timedelta(days=1)).severity is Severity.INFO  # type: ignore[union-attr]
    assert forecast_alert("churn", fc, horizon=timedelta(days=1)) is None
    ev = to_alert_event(cand, NOW)
    assert (ev.model_id, ev.status, ev.severity, ev.starts_at) == ("churn", "firing", Severity.WARNING, NOW)
    assert ev.fingerprint == fingerprint(dict(reversed(list(cand.labels.items()))))
    assert len(ev.fingerprint) == 16
