from __future__ import annotations

import numpy as np
import pytest

from mlmon_drift.alarms import PersistenceGate, benjamini_hochberg, window_alpha


def test_benjamini_hochberg_step_up() -> None:
    assert benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]), 0.05).tolist() == [True, False, False, False]
    assert benjamini_hochberg(np.array([0.02, 0.03, 0.035, 0.04]), 0.05).tolist() == [True] * 4
    assert benjamini_hochberg(np.array([]), 0.05).tolist() == []


def test_benjamini_hochberg_bad_input() -> None:
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\), got 0"):
        benjamini_hochberg(np.array([0.1]), 0)
    with pytest.raises(ValueError, match="p_values must be a 1-d array of probabilities"):
        benjamini_hochberg(np.array([np.nan]), 0.05)
    with pytest.raises(ValueError, match="p_values must be a 1-d array"):
        benjamini_hochberg(np.array([1.5]), 0.05)


def test_window_alpha_from_budget() -> None:
    assert window_alpha(2.0, events_per_second=10.0, window_events=100) == pytest.approx(2 / 60480)
    assert window_alpha(1.0, events_per_second=1e-4, window_events=100, max_alpha=0.01) == 0.01
    with pytest.raises(ValueError, match="alarms_per_week and events_per_second must be > 0"):
        window_alpha(0.0, events_per_second=1.0, window_events=100)


def test_gate_persistence_and_end() -> None:
    gate = PersistenceGate(2, k=2, n=3, end_after=2)
    seq = [[True, True], [False, False], [True, False], [False, False], [False, False]]
    out = [gate.update(np.array(s)) for s in seq]
    assert [o[0].tolist() for o in out] == [
        [False, False],
        [False, False],
        [True, False],
        [False, False],
        [False, False],
    ]
    assert [o[1].tolist() for o in out][-1] == [True, False]
    assert gate.drifting.tolist() == [False, False]


def test_gate_detector_confirmation_starts_at_once() -> None:
    gate = PersistenceGate(2, k=3, n=3)
    started, _ = gate.update(np.array([True, True]), confirmed=np.array([True, False]))
    assert started.tolist() == [True, False]
    started, _ = gate.update(np.array([True, True]), confirmed=np.array([True, False]))
    assert started.tolist() == [False, False]  # already drifting: no second start


def test_gate_state_round_trip_and_errors() -> None:
    gate = PersistenceGate(2)
    gate.update(np.array([True, False]))
    other = PersistenceGate(2)
    other.load_state(gate.to_state())
    assert other.to_state() == gate.to_state()
    with pytest.raises(ValueError, match=r"significant must have shape \(2,\), got \(3,\)"):
        gate.update(np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"history shape \(3, 2\) != \(3, 1\)"):
        PersistenceGate(1).load_state(gate.to_state())
    with pytest.raises(ValueError, match="need 1 <= k <= n"):
        PersistenceGate(1, k=4, n=3)
