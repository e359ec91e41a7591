from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmon_drift.model_drift import ModelDriftMonitor, change_point, lower_is_better


def test_relative_drop_per_metric_hand_computed() -> None:
    history = [{"timestamp": i, "accuracy": 0.9, "latency_p95_s": 0.1} for i in range(6)]
    history += [{"timestamp": 6 + i, "accuracy": 0.72, "latency_p95_s": 0.13} for i in range(5)]
    report = ModelDriftMonitor(reference_points=6).analyze_drift("churn", history)
    acc, lat = report.metrics["accuracy"], report.metrics["latency_p95_s"]
    assert (acc.reference, acc.recent) == pytest.approx((0.9, 0.72))
    assert acc.relative_drop == pytest.approx(0.2)
    assert lat.relative_drop == pytest.approx(0.3)  # lower is better: a rise is a drop
    assert acc.change_point == 6
    assert report.model_drift == pytest.approx(0.3)
    assert (report.worst_metric, report.drifted, report.threshold) == ("latency_p95_s", True, 0.15)
    assert sorted(report.metrics) == ["accuracy", "latency_p95_s"]  # timestamp is not a metric


def test_stable_model_is_not_drifting_and_slope_is_exact() -> None:
    frame = pd.DataFrame({"f1": [0.80, 0.81, 0.82, 0.83, 0.84, 0.85]})
    report = ModelDriftMonitor().analyze_drift("m", frame)
    assert report.metrics["f1"].slope == pytest.approx(0.01)
    assert report.model_drift == 0.0
    assert (report.drifted, report.worst_metric) == (False, None)
    assert report.to_dict()["metrics"]["f1"]["slope"] == pytest.approx(0.01)


def test_change_point_and_t_statistic() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.9, 0.01, 30), rng.normal(0.8, 0.01, 20)])
    cp, t = change_point(values)
    assert cp == 30
    assert t < -20
    assert change_point(np.array([1.0, 2.0, 3.0])) == (None, 0.0)


def test_lower_is_better_names() -> None:
    assert [lower_is_better(n) for n in ("error_rate", "latency_p50_s", "RMSE", "accuracy", "f1")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_bad_history() -> None:
    mon = ModelDriftMonitor()
    with pytest.raises(ValueError, match="performance_history: at least one entry is required"):
        mon.analyze_drift("m", [])
    with pytest.raises(ValueError, match="performance_history: no numeric metric column"):
        mon.analyze_drift("m", [{"note": "x"}])
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        ModelDriftMonitor(threshold=-1)
