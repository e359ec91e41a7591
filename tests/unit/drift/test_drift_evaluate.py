"""The quality harness in quick mode: runs fast and meets the issue's targets on its scenarios."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlmon_drift.config import DriftConfig
from mlmon_drift.evaluate import LIVE, QUICK, Tally, evaluate, main
from mlmon_drift.scenarios import SCENARIOS, generate


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


def test_control_is_quiet_and_better_than_river_defaults(results: dict[str, dict[str, Tally]]) -> None:
    control = results["control"]
    assert control[LIVE].false_alarms == 0
    for det in ("River ADWIN", "River PageHinkley"):
        assert control[det].row()["false_alarms_per_100k"] > 1.0  # type: ignore[operator]


def test_tally_rows() -> None:
    tally = Tally(targets=4, delays=[10, 20, 30], false_alarms=2, events=50_000)
    assert tally.row() == {
        "detection_rate": 0.75,
        "median_delay": 20.0,
        "p90_delay": 28.0,
        "false_alarms_per_100k": 4.0,
        "mtbfa_events": 25_000.0,
    }
    assert Tally().row()["detection_rate"] is None


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


def test_score_counts_only_targets_a_baseline_ran_on() -> None:
    from mlmon_drift.evaluate import _score

    s = generate("mean_1.0", seed=1, length=2000, change_at=1500)
    tally = Tally()
    _score(tally, s, {"n1": [1600], "n0": [1200, 1700]}, ref=1000, scale=5.0, ran_on=("n1", "n0"))
    assert (tally.targets, tally.delays, tally.false_alarms, tally.events) == (1, [100], 10.0, 1000)
