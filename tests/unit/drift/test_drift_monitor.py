"""Timeline tests of ModelMonitor: seeded streams, exact features, bounded delays, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlmon_common.events import OutcomeEvent, PredictionEvent
from mlmon_drift import stats
from mlmon_drift.config import DriftConfig
from mlmon_drift.monitor import ModelMonitor

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REF = 1000
CHANGE = 3000


def _stream(seed: int, n: int, shift: dict[str, float] | None = None) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    plans = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    rows = []
    for i in range(n):
        row: dict[str, Any] = {f"f{j}": float(x[i, j]) for j in range(4)}
        row["plan"] = str(plans[i])
        if shift and i >= CHANGE:
            for name, delta in shift.items():
                row[name] += delta
        rows.append(row)
    return rows


def _feed(mon: ModelMonitor, rows: list[dict[str, Any]], start: int = 0) -> list[tuple[int, Any]]:
    out = []
    for i, row in enumerate(rows[start:], start=start):
        out += [(i, e) for e in mon.observe(row, None, None, at=T0 + timedelta(seconds=i))]
    return out


def test_reference_is_built_from_the_first_events() -> None:
    mon = ModelMonitor("m")
    assert _feed(mon, _stream(1, REF)) == []
    assert mon.reference is not None
    assert (mon.reference.n_events, mon.reference.version) == (REF, 1)
    assert mon.reference.events_per_second == 1.0
    assert mon.names == ["f0", "f1", "f2", "f3", "plan"]
    assert mon.alpha == pytest.approx(100 / 604800)


def test_one_sigma_shift_on_two_features_starts_exactly_those() -> None:
    mon = ModelMonitor("m")
    events = _feed(mon, _stream(2, 6000, {"f1": 1.0, "f3": 1.0}))
    started = [(i, e.kind, e.feature) for i, e in events if e.state == "started"]
    assert {f for _, k, f in started if k == "feature"} == {"f1", "f3"}
    assert all(CHANGE <= i <= CHANGE + 300 for i, _, _ in started)
    data = [e for _, e in events if e.kind == "data"]
    assert [(e.state, e.score, e.details["drifting_features"]) for e in data] == [("started", 0.4, ["f1", "f3"])]
    feature = next(e for _, e in events if e.feature == "f1")
    assert feature.detector == "ks"
    assert feature.p_value is not None
    assert feature.p_value < feature.threshold
    assert feature.details["wasserstein"] > 0.5


def test_no_change_control_emits_nothing() -> None:
    assert _feed(ModelMonitor("m"), _stream(3, 20000)) == []


def test_drift_ends_when_the_stream_returns_to_reference() -> None:
    rows = _stream(4, 5000, {"f0": 2.0})
    rows += _stream(5, 3000)
    events = [(i, e.kind, e.state) for i, e in _feed(ModelMonitor("m"), rows)]
    assert [(k, s) for _, k, s in events] == [("feature", "started"), ("data", "started")] * 1 + [
        ("feature", "ended"),
        ("data", "ended"),
    ]
    ended_at = events[-1][0]
    assert 5000 < ended_at <= 5000 + 1000


def test_restored_worker_continues_exactly_like_the_old_one() -> None:
    rows = _stream(6, 7000, {"f2": 1.0})
    reference = ModelMonitor("m")
    expected = _feed(reference, rows)
    first = ModelMonitor("m")
    before = _feed(first, rows[:3500])
    state = json.loads(json.dumps(first.to_state()))  # what Redis stores
    restored = ModelMonitor.from_state(state)
    after = _feed(restored, rows, start=3500)
    got = before + after
    assert [(i, e.kind, e.state, e.feature) for i, e in got] == [(i, e.kind, e.state, e.feature) for i, e in expected]
    assert restored.drifting_features() == ["f2"]


def test_restart_mid_drift_repeats_no_started_event() -> None:
    rows = _stream(7, 6000, {"f0": 1.5})
    first = ModelMonitor("m")
    assert any(e.state == "started" for _, e in _feed(first, rows[:4000]))
    restored = ModelMonitor.from_state(first.to_state())
    assert _feed(restored, rows, start=4000) == []
    assert [e.details["drifting_features"] for e in restored.snapshot()] == [["f0"]]


def test_state_while_building_reference_round_trips() -> None:
    rows = _stream(8, 600)
    mon = ModelMonitor("m")
    _feed(mon, rows[:400])
    restored = ModelMonitor.from_state(json.loads(json.dumps(mon.to_state())))
    assert restored.builder is not None
    assert len(restored.builder.rows) == 400
    assert restored.builder.first_at == T0


def test_from_state_rejects_bad_checkpoints() -> None:
    state = ModelMonitor("m").to_state()
    with pytest.raises(ValueError, match="checkpoint: state_version must be 1, got 7"):
        ModelMonitor.from_state({**state, "state_version": 7})
    with pytest.raises(ValueError, match="checkpoint: missing or malformed field 'concept'"):
        ModelMonitor.from_state({k: v for k, v in state.items() if k != "concept"})


def test_snapshot_reports_scores_and_p_values() -> None:
    mon = ModelMonitor("m")
    assert mon.snapshot() == []
    _feed(mon, _stream(9, 1500))
    (snap,) = mon.snapshot(now=T0)
    assert (snap.kind, snap.state, snap.score, snap.threshold) == ("data", "snapshot", 0.0, 0.1)
    assert sorted(snap.details["p_values"]) == ["f0", "f1", "f2", "f3", "plan"]
    assert snap.occurred_at == T0


def test_update_with_prediction_events_and_model_check() -> None:
    mon = ModelMonitor("m", DriftConfig(reference_size=50, window_events=20))
    for i in range(60):
        mon.update(PredictionEvent(model_id="m", prediction_id=f"p{i}", features={"x": float(i % 5)}, score=0.3))
    assert mon.reference is not None
    assert sorted(mon.reference.numeric) == ["__score__", "x"]
    with pytest.raises(ValueError, match="model_id 'other' does not match monitor 'm'"):
        mon.update(PredictionEvent(model_id="other", prediction_id="p", features={}))


def test_score_drift_is_kind_prediction() -> None:
    rng = np.random.default_rng(10)
    mon = ModelMonitor("m")
    events = []
    for i in range(4000):
        score = float(rng.beta(2, 5) if i < CHANGE else rng.beta(5, 2))
        events += mon.observe({"x": float(rng.normal())}, score > 0.5, score, at=T0)
    assert {(e.kind, e.feature) for e in events if e.state == "started"} == {
        ("prediction", "__score__"),
        ("prediction", "__prediction__"),
    }


def test_unseen_categories_drift_a_categorical_feature() -> None:
    rows = _stream(11, 5000)
    for row in rows[CHANGE:]:
        row["plan"] = "new-plan"
    events = _feed(ModelMonitor("m"), rows)
    started = [e for _, e in events if e.state == "started" and e.kind == "feature"]
    assert [(e.feature, e.detector) for e in started] == [("plan", "chi2")]
    assert started[0].score == pytest.approx(1.0, abs=0.01)  # Jensen-Shannon distance


def test_reset_reference_ends_drifts_and_rebuilds() -> None:
    mon = ModelMonitor("m")
    _feed(mon, _stream(12, 5000, {"f0": 2.0}))
    events = mon.reset_reference(None, at=T0)
    assert [(e.kind, e.state) for e in events] == [("feature", "ended"), ("data", "ended")]
    assert mon.reference is None
    assert mon.builder is not None
    assert mon.builder.version == 2


def test_concept_drift_from_outcomes() -> None:
    rng = np.random.default_rng(13)
    mon = ModelMonitor("m")
    events = []
    for i in range(4000):
        wrong = bool(rng.random() < (0.1 if i < 2000 else 0.3))
        at = T0 + timedelta(seconds=i)
        ev = OutcomeEvent(
            model_id="m",
            prediction_id=f"p{i}",
            prediction=1,
            label=0 if wrong else 1,
            correct=not wrong,
            predicted_at=at,
            labelled_at=at,
            occurred_at=at,
        )
        events += [(i, e) for e in mon.update_outcome(ev)]
    assert [(e.kind, e.state, e.detector) for _, e in events] == [("concept", "started", "error_rate_window")]
    assert 2000 <= events[0][0] <= 3000
    no_label = OutcomeEvent(model_id="m", prediction_id="x", label=1.5, predicted_at=T0, labelled_at=T0)
    assert mon.update_outcome(no_label) == []


def test_checkpoint_without_reference_needs_the_same_version() -> None:
    rows = _stream(14, 5000, {"f1": 1.5})
    mon = ModelMonitor("m")
    _feed(mon, rows[:4000])
    state = json.loads(json.dumps(mon.to_state(include_reference=False)))
    assert state["reference"] is None
    assert len(json.dumps(state)) < len(json.dumps(mon.to_state())) / 2
    assert mon.reference is not None
    restored = ModelMonitor.from_state(state, reference=mon.reference)
    assert restored.drifting_features() == ["f1"]
    with pytest.raises(ValueError, match="checkpoint: needs reference version 1, got None"):
        ModelMonitor.from_state(state)


@pytest.mark.parametrize(
    ("make_row", "drifting"),
    [
        (lambda i, after: {"plan": "b" if after else "abc"[i % 3]}, ["plan"]),
        (lambda i, after: {"x": float(i % 10) + (10.0 if after else 0.0)}, ["x"]),
        (lambda i, after: {}, []),
    ],
    ids=["categorical-only", "numeric-only", "no-features"],
)
def test_models_with_one_kind_of_feature_or_none(make_row: Any, drifting: list[str]) -> None:
    mon = ModelMonitor("m", DriftConfig(reference_size=200, window_events=50))
    for i in range(1500):
        mon.observe(make_row(i, i >= 800), at=T0)
    assert mon.drifting_features() == drifting
    assert mon.data_drift_score() == (1.0 if drifting else 0.0)


def test_checkpoint_from_before_the_two_sample_chi_square_loads_and_continues() -> None:
    """A checkpoint written by the monitor that still used the goodness-of-fit chi-square (same state format:
    the reference counts the two-sample test needs come from the stored reference profile)."""
    state = json.loads((Path(__file__).parent / "old_checkpoint_state_v1.json").read_text())
    mon = ModelMonitor.from_state(state)
    assert mon.names == ["__score__", "x", "__prediction__", "flag", "plan"]
    assert (mon.filled, mon.pos, mon.events_seen) == (3, 10, 130)
    # reference counts of the testable levels plus the pooled rest ("c" is too rare for 20-event windows)
    assert mon.levels == [["false", "true"], ["false", "true"], ["a", "b"]]
    assert mon.cat_ref_counts[:, 0].tolist() == [[30, 30, 0], [39, 21, 0], [28, 21, 11]]
    assert mon.to_state()["window"]["counts"] == state["window"]["counts"]
    rng = np.random.default_rng(3)
    for i in range(200):
        row = {"x": float(rng.normal()), "plan": str(rng.choice(["a", "b", "c"])), "flag": bool(rng.random() < 0.3)}
        mon.observe(row, bool(i % 2), float(rng.random()), at=T0 + timedelta(seconds=130 + i))
    assert mon.filled == 13
    assert np.all((mon.last_p >= 0) & (mon.last_p <= 1))


def _category_rows(seed: int, n: int, change: int | None) -> list[dict[str, Any]]:
    """c0 of the harness (levels a-d at 0.4/0.3/0.2/0.1), shifted by total variation 0.1 at ``change``."""
    rng = np.random.default_rng(seed)
    levels = np.array(["a", "b", "c", "d"])
    before = rng.choice(levels, size=n, p=[0.4, 0.3, 0.2, 0.1])
    after = rng.choice(levels, size=n, p=[0.3, 0.3, 0.2, 0.2])
    return [{"c0": str(after[i] if change is not None and i >= change else before[i])} for i in range(n)]


def test_categorical_p_values_are_the_two_sample_test_against_the_reference_counts() -> None:
    mon = ModelMonitor("m")
    rows = _category_rows(15, REF + 700, None)
    _feed(mon, rows)
    assert mon.reference is not None
    ref = [mon.reference.categorical["c0"].levels[lv] for lv in "abcd"]
    assert mon.levels == [["a", "b", "c", "d"]]
    assert mon.cat_ref_counts[0, 0].tolist() == [*ref, 0]
    counts = {lv: 0 for lv in "abcd"}
    for row in rows[REF + 600 :]:
        counts[row["c0"]] += 1
    short_stat, short_p = stats.chi_square_two_sample(np.array(ref), np.array([[*counts.values()]]))
    long_counts = [sum(r["c0"] == lv for r in rows[REF + 200 :]) for lv in "abcd"]
    _, long_p = stats.chi_square_two_sample(np.array(ref), np.array([long_counts]))
    assert mon.last_stat[0] == pytest.approx(short_stat[0])
    assert mon.last_p[0] == pytest.approx(min(1.0, 2 * min(short_p[0], long_p[0])))


def test_categorical_tv_shift_of_0_1_starts_only_after_the_change() -> None:
    for seed in range(3):
        events = _feed(ModelMonitor("m"), _category_rows(20 + seed, 6000, CHANGE))
        started = [(i, e.feature, e.detector) for i, e in events if e.state == "started" and e.kind == "feature"]
        assert [(f, d) for _, f, d in started] == [("c0", "chi2")]
        assert CHANGE <= started[0][0] <= CHANGE + 1500


def test_levels_beyond_max_categories_count_in_the_pooled_rest_of_the_reference() -> None:
    """60 equally likely levels, the profile keeps 20: the window pools the other 40 with the rare ones, so
    the reference's rest must hold them too (it used to hold only the listed levels: a drift at once)."""
    rng = np.random.default_rng(16)
    mon = ModelMonitor("m", DriftConfig(max_categories=20))
    rows = [
        {"city": f"c{v}", "x": float(v)} if i % 10 else {"x": 0.0} for i, v in enumerate(rng.integers(0, 60, 20_000))
    ]
    assert _feed(mon, rows) == []
    assert mon.reference is not None
    profile = mon.reference.categorical["city"]
    assert len(profile.levels) == 20
    ref = mon.cat_ref_counts[0, 0]
    assert ref.sum() == 900  # non-null reference values (every 10th row has no city)
    assert ref[len(mon.levels[0])] == 900 - sum(profile.levels[lv] for lv in mon.levels[0])
