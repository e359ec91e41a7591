from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from mlmon_drift.concept import ConceptTracker
from mlmon_drift.config import DriftConfig

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _errors(seed: int, n: int, change: int, before: float, after: float) -> list[bool]:
    rng = np.random.default_rng(seed)
    return [bool(rng.random() < (before if i < change else after)) for i in range(n)]


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
    assert [e.state for x in stream for e in tracker.update(x, "m", T0)] == ["started"]
    restored = ConceptTracker(cfg)
    restored.load_state(tracker.to_state())
    assert restored.drifting is True
    assert [e.state for x in _errors(4, 300, 0, 0.5, 0.5) for e in restored.update(x, "m", T0)] == []
    (snap,) = restored.snapshot("m", T0)
    assert (snap.kind, snap.state, snap.threshold) == ("concept", "snapshot", 1e-3)
    assert snap.details["reference_error_rate"] > 0.05


def test_no_snapshot_before_any_outcome() -> None:
    assert ConceptTracker(DriftConfig()).snapshot("m", T0) == []
