"""The quality harness in quick mode: runs fast and meets the issue's targets on its scenarios."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from mlmon_drift.config import DriftConfig
from mlmon_drift.evaluate import (
    BINARY_BASELINES,
    LIVE,
    QUICK,
    Tally,
    _score,
    control_table,
    evaluate,
    lower_rate_p_value,
    main,
    poisson_interval,
)
from mlmon_drift.scenarios import BASE_ERROR_RATE, SCENARIOS, generate


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Tally]]:
    started = time.perf_counter()
    out = evaluate(QUICK, DriftConfig())
    assert time.perf_counter() - started < 20
    return out


def test_every_change_is_detected_by_the_live_config(results: dict[str, dict[str, Tally]]) -> None:
    for name in SCENARIOS:
        if name != "control":
            assert results[name][LIVE].row()["detection_rate"] == 1.0, name


def test_one_sigma_median_delay_within_300_events(results: dict[str, dict[str, Tally]]) -> None:
    delay = results["mean_1.0"][LIVE].row()["median_delay"]
    assert delay is not None
    assert delay <= 300


def test_control_is_quiet_and_better_than_river_defaults_on_the_same_streams(
    results: dict[str, dict[str, Tally]],
) -> None:
    control = results["control"]
    live = control[LIVE].row()
    assert live["false_alarms_per_100k"] == 0.0
    assert control[LIVE].exposure == {"numeric": 50_000, "other": 50_000, "error": 50_000}
    for det in ("River ADWIN", "River PageHinkley"):
        river = control[det].row()
        assert (river["fa_features"], river["fa_error"]) == (None, None)  # numeric features only
        assert river["fa_numeric"] > 100 * 1.0  # type: ignore[operator]
    for det in BINARY_BASELINES:
        river = control[det].row()
        assert (river["fa_numeric"], river["fa_features"]) == (None, None)  # error stream only
        assert live["fa_error"] <= river["fa_error"]  # type: ignore[operator]
    assert control["River EDDM"].row()["fa_error"] > 10.0  # type: ignore[operator]


def test_tally_rows() -> None:
    tally = Tally(
        targets=4,
        delays=[10, 20, 30],
        alarms={"numeric": 1, "other": 1, "error": 2},
        exposure={"numeric": 50_000, "other": 50_000, "error": 100_000},
    )
    assert tally.row() == {
        "detection_rate": 0.75,
        "median_delay": 20.0,
        "p90_delay": 28.0,
        "fa_numeric": 2.0,
        "fa_features": 4.0,
        "fa_error": 2.0,
        "false_alarms_per_100k": pytest.approx(6.0),
        "mtbfa_events": pytest.approx(100_000 / 6),
    }
    assert Tally().row()["detection_rate"] is None
    assert Tally().row()["false_alarms_per_100k"] is None


def test_control_error_stream_keeps_its_mean_and_follows_the_inputs() -> None:
    runs = [generate("control", seed=seed, length=60_000, change_at=None) for seed in (1, 2, 3)]
    p = np.concatenate([s.extra["error_probability"] for s in runs])
    errors = np.concatenate([np.asarray(s.errors, dtype=float) for s in runs])
    n6 = np.concatenate([[row["n6"] for row in s.rows] for s in runs])
    assert p.mean() == pytest.approx(BASE_ERROR_RATE, abs=0.002)
    assert errors.mean() == pytest.approx(BASE_ERROR_RATE, abs=0.003)
    # modulated: the error rate follows n6 (seasonal cycle + AR(0.8)), from easy to hard traffic
    low, high = np.quantile(n6, [0.2, 0.8])
    assert errors[n6 <= low].mean() < 0.06 < 0.16 < errors[n6 >= high].mean()
    assert np.percentile(p, 95) / np.percentile(p, 5) > 5
    # autocorrelated: 300-outcome windows vary more than independent Bernoulli draws would
    windows = errors[: errors.size // 300 * 300].reshape(-1, 300).mean(axis=1)
    assert windows.var() > 1.2 * BASE_ERROR_RATE * (1 - BASE_ERROR_RATE) / 300


def test_concept_scenario_adds_its_rise_on_top_of_the_modulated_rate() -> None:
    concept = generate("concept_0.08", seed=4, length=8000, change_at=4000)
    control = generate("control", seed=4, length=8000, change_at=None)
    rise = concept.extra["error_probability"] - control.extra["error_probability"]
    assert np.allclose(rise[:4000], 0.0)
    assert np.allclose(rise[4000:], 0.08)
    assert concept.rows == control.rows  # the inputs are the same stream


def test_scenarios_are_deterministic_per_seed() -> None:
    a, b = (generate("concept_0.08", seed=5, length=3000, change_at=1500) for _ in range(2))
    c = generate("concept_0.08", seed=6, length=3000, change_at=1500)
    assert (a.rows, a.scores, a.errors) == (b.rows, b.scores, b.errors)
    assert a.errors != c.errors


def test_scenario_errors() -> None:
    with pytest.raises(ValueError, match=r"scenario: unknown name 'nope'; valid: mean_0\.5"):
        generate("nope", seed=1, length=100, change_at=50)
    with pytest.raises(ValueError, match=r"change_at must be in \(0, 100\), got 100"):
        generate("mean_1.0", seed=1, length=100, change_at=100)
    assert generate("control", seed=1, length=100, change_at=50).change_at is None


def test_main_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    assert main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("| scenario | change | detector |")
    assert "| control | none | mlmon (live config) |" in text
    assert "| error stream | River HDDM_A | 0 | 50,000 | 0.00 | 0.00 - 7.38 |" in text


def test_score_counts_only_targets_a_baseline_ran_on() -> None:
    s = generate("mean_1.0", seed=1, length=2000, change_at=1500)
    tally = Tally()
    starts = {"n1": [1600], "n0": [1200, 1700]}
    _score(tally, s, starts, ref=1000, kinds=("numeric",), coverage=0.2, ran_on=("n1", "n0"))
    assert (tally.targets, tally.delays, tally.alarms, tally.exposure) == (1, [100], {"numeric": 2}, {"numeric": 200})
    assert tally.row()["fa_numeric"] == 1000.0  # 2 alarms on 2 of 10 features over 1,000 events


def test_score_splits_false_alarms_by_stream_type() -> None:
    s = generate("concept_0.08", seed=1, length=3000, change_at=2000)
    tally = Tally()
    _score(tally, s, {"__concept__": [1500, 2300], "c3": [1200], "__score__": [2500], "n4": [2600]}, ref=1000)
    assert tally.delays == [300]
    assert tally.alarms == {"numeric": 1, "other": 2, "error": 1}  # the concept start before the change
    assert "| error stream | t | 1 | 2,000 | 50.00 |" in control_table({"t": tally})


def test_rate_intervals_and_comparison() -> None:
    assert poisson_interval(0) == pytest.approx((0.0, 3.689), abs=1e-3)  # two-sided; one-sided 95 %: 3.0
    low, high = poisson_interval(16)
    assert low < 16 < high
    assert (low, high) == pytest.approx((9.15, 25.98), abs=0.01)
    # 3 vs 16 alarms over equal exposure: P(X <= 3), X ~ Binomial(19, 1/2) = 1160 / 2**19
    assert lower_rate_p_value(3, 1e6, 16, 1e6) == pytest.approx(1160 / 2**19)
    assert lower_rate_p_value(3, 1e6, 3, 1e6) > 0.5
