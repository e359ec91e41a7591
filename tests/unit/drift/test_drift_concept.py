from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mlmon_drift.alarms import window_alpha
from mlmon_drift.concept import ConceptTracker, ErrorRateTest
from mlmon_drift.config import DriftConfig
from mlmon_drift.scenarios import generate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _errors(seed: int, n: int, change: int, before: float, after: float) -> list[bool]:
    rng = np.random.default_rng(seed)
    return [bool(rng.random() < (before if i < change else after)) for i in range(n)]


def _sticky(seed: int, n: int, rate: float, stay: float) -> list[bool]:
    """Errors whose probability switches between rate/2 and 3 rate/2 in runs of ~1/(1 - stay) outcomes."""
    rng = np.random.default_rng(seed)
    hard, out = False, []
    for _ in range(n):
        hard = hard if rng.random() < stay else not hard
        out.append(bool(rng.random() < rate * (1.5 if hard else 0.5)))
    return out


def _feed(tracker: ConceptTracker, stream: list[bool], start: int = 0, step_s: float = 1.0) -> list[tuple[int, str]]:
    return [
        (i, e.state)
        for i, x in enumerate(stream, start=start)
        for e in tracker.update(x, "m", T0 + timedelta(seconds=i * step_s))
    ]


def test_river_detector_drift_starts_then_ends_after_quiet_period() -> None:
    cfg = DriftConfig(concept_detector="HDDM_A", concept_window=100, end_after=5)
    tracker = ConceptTracker(cfg)
    stream = _errors(1, 6000, 2000, 0.05, 0.5)[:3000] + _errors(2, 3000, 0, 0.05, 0.05)
    events = [(i, e.state, e.detector) for i, x in enumerate(stream) for e in tracker.update(x, "m", T0)]
    assert events[0][1:] == ("started", "HDDM_A")
    assert 2000 <= events[0][0] < 2300
    assert events[-1][1] == "ended"
    assert tracker.to_state()["drifting"] is False


def test_window_tracker_state_round_trip_keeps_drift_in_progress() -> None:
    cfg = DriftConfig(concept_reference_size=200, concept_window=100)
    tracker = ConceptTracker(cfg)
    stream = _errors(3, 2000, 600, 0.1, 0.5)
    assert [state for _, state in _feed(tracker, stream)] == ["started"]
    restored = ConceptTracker(cfg)
    restored.load_state(tracker.to_state())
    assert restored.drifting is True
    assert _feed(restored, _errors(4, 300, 0, 0.5, 0.5), start=2000) == []
    (snap,) = restored.snapshot("m", T0)
    level = window_alpha(1.0, events_per_second=1.0, window_events=100)
    assert (snap.kind, snap.state) == ("concept", "snapshot")
    assert snap.threshold == pytest.approx(level / 2)
    assert snap.details["reference_error_rate"] > 0.05
    assert snap.details["long_window_error_rate"] == pytest.approx(0.5, abs=0.05)


def test_level_is_calibrated_from_the_budget_and_the_outcome_rate() -> None:
    cfg = DriftConfig(concept_reference_size=100, concept_window=100, false_alarms_per_week=2.0)
    tracker = ConceptTracker(cfg)
    _feed(tracker, _errors(5, 150, 0, 0.1, 0.1), step_s=6.0)  # one outcome every 6 s
    expected = window_alpha(2.0, events_per_second=1 / 6, window_events=100, max_alpha=cfg.max_alpha)
    assert tracker.detector.level == pytest.approx(expected)
    assert expected == pytest.approx(2.0 / (604800 / 6 / 100))  # below max_alpha: the budget decides


def test_variance_inflation_reflects_autocorrelated_errors() -> None:
    iid = ErrorRateTest(reference_size=4000)
    sticky = ErrorRateTest(reference_size=4000)
    for x, y in zip(_errors(6, 4000, 0, 0.1, 0.1), _sticky(6, 4000, 0.1, 0.98), strict=True):
        iid.update(x)
        sticky.update(y)
    assert iid.inflation < 1.2
    assert sticky.inflation > 1.5  # runs of ~50 outcomes at half / one and a half the rate
    assert iid.ref_bits == sticky.ref_bits == ""  # the reference inputs are dropped once used


def test_autocorrelated_errors_widen_the_test() -> None:
    """The same window against the same reference is less significant when the stream is autocorrelated."""
    det = ErrorRateTest(reference_size=1000, window=300)
    for x in _errors(7, 1000, 0, 0.1, 0.1):
        det.update(x)
    det.inflation = 1.0
    narrow = det._p_value(50, 300)
    det.inflation = 2.0
    assert narrow < 1e-3 < det._p_value(50, 300)


def test_long_window_detects_a_rise_the_short_window_misses() -> None:
    det = ErrorRateTest(reference_size=3000, window=300, long_windows=5, alpha=1e-3, k=1, n=1)
    rng = np.random.default_rng(8)
    for x in rng.random(3000) < 0.10:
        det.update(bool(x))
    short_hits = long_hits = 0
    for _ in range(40):
        for x in rng.random(300) < 0.13:
            det.update(bool(x))
        short_p = det._p_value(round(det.last_rate * 300), 300)
        short_hits += short_p < det.level / 2
        long_hits += det.last_p < det.level / 2
    assert short_hits < 10 < long_hits


def test_no_false_alarm_on_a_seasonal_autocorrelated_healthy_error_stream() -> None:
    s = generate("control", seed=9, length=40_000, change_at=None)
    tracker = ConceptTracker(DriftConfig())
    assert _feed(tracker, s.errors) == []
    assert tracker.detector.inflation > 1.1


#: ``ErrorRateWindow(reference_size=500, window=300).to_state()`` after 800 outcomes (the detector before
#: ``ErrorRateTest``; the class is gone, its checkpoints are still in Redis).
OLD_ERROR_RATE_WINDOW_STATE = {
    "ref_count": 500,
    "ref_errors": 47,
    "win_count": 0,
    "win_errors": 0,
    "history": [False],
    "quiet": 0,
    "drifting": False,
    "last_p": 0.2388563799559842,
    "last_rate": 0.11,
}


def test_old_error_rate_window_checkpoint_loads_and_is_recalibrated() -> None:
    cfg = DriftConfig(concept_reference_size=500)
    tracker = ConceptTracker(cfg)
    old = dict(OLD_ERROR_RATE_WINDOW_STATE)
    tracker.load_state({"outcomes": 800, "last_detection": None, "drifting": False, "detector": old})
    assert tracker.detector.ready
    assert tracker.detector.level == pytest.approx(window_alpha(1.0, events_per_second=1.0, window_events=300))
    assert tracker.detector.reference_rate == pytest.approx((47 + 0.5) / 501)  # ErrorRateWindow's estimate
    assert _feed(tracker, _errors(11, 3000, 0, 0.5, 0.5), start=800)[0][1] == "started"


def test_error_rate_test_rejects_bad_parameters_and_state() -> None:
    with pytest.raises(ValueError, match="ErrorRateTest: need"):
        ErrorRateTest(k=4, n=3)
    with pytest.raises(ValueError, match="ErrorRateTest state: unknown field 'nope'"):
        ErrorRateTest().load_state({"nope": 1})


def test_no_snapshot_before_any_outcome() -> None:
    assert ConceptTracker(DriftConfig()).snapshot("m", T0) == []
