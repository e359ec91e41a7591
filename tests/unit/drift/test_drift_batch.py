from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmon_drift.batch import DataDriftMonitor


def _tables(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 2000),
            "income": rng.lognormal(10, 1, 2000),
            "plan": rng.choice(["a", "b", "c"], 2000, p=[0.5, 0.3, 0.2]),
            "active": rng.random(2000) < 0.5,
        }
    )
    cur = pd.DataFrame(
        {
            "age": rng.normal(50, 10, 1000),
            "income": rng.lognormal(10, 1, 1000),
            "plan": rng.choice(["a", "b", "c", "z"], 1000, p=[0.2, 0.3, 0.2, 0.3]),
            "active": rng.random(1000) < 0.5,
        }
    )
    return ref, cur


def test_dataframes_per_feature_results_and_share() -> None:
    ref, cur = _tables()
    report = DataDriftMonitor().detect_drift(ref, cur)
    assert {n: f.drifted for n, f in report.features.items()} == {
        "age": True,
        "income": False,
        "plan": True,
        "active": False,
    }
    assert (report.share, report.drifted, report.threshold) == (0.5, True, 0.1)
    age, plan = report.features["age"], report.features["plan"]
    assert (age.kind, age.test) == ("numeric", "ks")
    assert age.wasserstein == pytest.approx(1.0, abs=0.1)  # 10 units = 1 reference sd
    assert age.psi > 0.2
    assert (plan.kind, plan.test) == ("categorical", "chi2")
    assert plan.unseen_rate == pytest.approx((cur["plan"] == "z").mean())
    assert plan.jensen_shannon is not None
    assert plan.jensen_shannon > 0.2
    assert report.features["active"].kind == "categorical"


def test_column_dicts_with_missing_values_and_to_dict() -> None:
    ref = {"x": [1.0, 2.0, None, 3.0, float("nan")] * 40, "only_ref": [1] * 200}
    cur = {"x": [1.0, 2.0, 3.0] * 40, "only_cur": ["a"] * 120}
    report = DataDriftMonitor().detect_drift(ref, cur)
    assert list(report.features) == ["x"]
    assert report.features["x"].statistic == pytest.approx(0.0)
    assert (report.missing_in_current, report.new_in_current) == (["only_ref"], ["only_cur"])
    out = report.to_dict()
    assert out["features"]["x"]["drifted"] is False
    assert out["share"] == 0.0


def test_rare_levels_are_pooled_so_long_tails_do_not_alarm() -> None:
    rng = np.random.default_rng(3)
    p = np.arange(1, 41) ** -1.5
    levels = np.array([f"L{i}" for i in range(40)])
    ref = {"c": rng.choice(levels, 5000, p=p / p.sum()).tolist()}
    cur = {"c": rng.choice(levels, 200, p=p / p.sum()).tolist()}
    assert DataDriftMonitor().detect_drift(ref, cur).features["c"].drifted is False


def test_bad_inputs_name_the_problem() -> None:
    mon = DataDriftMonitor()
    with pytest.raises(ValueError, match="reference and current share no column"):
        mon.detect_drift({"a": [1.0]}, {"b": [1.0]})
    with pytest.raises(ValueError, match="column 'a': no non-missing values in current"):
        mon.detect_drift({"a": [1.0]}, {"a": [None]})
    with pytest.raises(TypeError, match="current: column 'a' must be a sequence of values"):
        mon.detect_drift({"a": [1.0]}, {"a": "abc"})
    with pytest.raises(TypeError, match="reference: expected a pandas DataFrame or a dict of columns, got list"):
        mon.detect_drift([1, 2], {"a": [1.0]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        DataDriftMonitor(alpha=1.0)
    with pytest.raises(ValueError, match=r"share_threshold must be in \[0, 1\]"):
        DataDriftMonitor(share_threshold=2.0)


def test_categorical_test_counts_the_reference_as_a_sample() -> None:
    """Both tables are samples: 550/450 against 500/500 (n = m = 1000) is chi2 5.01 (p 0.025) as a 2 x 2
    contingency table, not 10.0 (p 0.0016) as if the reference shares were exact."""
    ref = {"c": ["a"] * 500 + ["b"] * 500}
    cur = {"c": ["a"] * 550 + ["b"] * 450}
    result = DataDriftMonitor(alpha=0.01).detect_drift(ref, cur).features["c"]
    assert result.statistic == pytest.approx(5.013, abs=1e-3)
    assert result.p_value == pytest.approx(0.0252, abs=1e-3)
    assert result.drifted is False
