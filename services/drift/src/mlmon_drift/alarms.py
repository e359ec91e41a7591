"""False-alarm control across features: BH per window, persistence, a per-model budget.

One window yields one p-value per feature. ``benjamini_hochberg`` decides which are significant at the
window level ``alpha``; ``window_alpha`` derives that level from the model's false-alarm budget
(alarms per week) and its event rate measured on the reference; ``PersistenceGate`` turns per-window
decisions into drift state transitions (k of n windows, or one window confirmed by a detector).

>>> import numpy as np
>>> benjamini_hochberg(np.array([0.001, 0.02, 0.04, 0.9]), 0.05).tolist()
[True, True, False, False]
>>> round(window_alpha(1.0, events_per_second=1.0, window_events=100), 8)
0.00016534
"""

from __future__ import annotations

from typing import Any

import numpy as np

SECONDS_PER_WEEK = 7 * 24 * 3600


def benjamini_hochberg(p_values: np.ndarray, alpha: float) -> np.ndarray:
    """Step-up BH: reject the k smallest p-values, k the largest with ``p_(k) <= k alpha / m``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must be a 1-d array of probabilities in [0, 1]")
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p)
    below = p[order] <= alpha * np.arange(1, m + 1) / m
    reject = np.zeros(m, dtype=bool)
    if below.any():
        k = int(np.nonzero(below)[0].max())
        reject[order[: k + 1]] = True
    return reject


def window_alpha(
    alarms_per_week: float, *, events_per_second: float, window_events: int, max_alpha: float = 0.01
) -> float:
    """Per-window test level so that a stable model raises at most the budget per week.

    Under no change BH controls the family-wise rate at ``alpha`` per window; a week holds
    ``events_per_second * 604800 / window_events`` windows. Persistence only lowers the rate further.
    """
    if alarms_per_week <= 0 or events_per_second <= 0 or window_events < 1:
        raise ValueError("alarms_per_week and events_per_second must be > 0, window_events >= 1")
    windows_per_week = events_per_second * SECONDS_PER_WEEK / window_events
    return float(min(max_alpha, alarms_per_week / windows_per_week))


class PersistenceGate:
    """Drift state per feature from per-window decisions.

    A quiet feature starts drifting when it was significant in ``k`` of the last ``n`` windows, or
    significant and ``confirmed`` (by an online detector) in this window. A drifting feature ends after
    ``end_after`` windows in a row without significance.

    >>> import numpy as np
    >>> gate = PersistenceGate(1, k=2, n=3, end_after=2)
    >>> [gate.update(np.array([s]))[0].tolist() for s in (True, False, True, True)]
    [[False], [False], [True], [False]]
    >>> [gate.update(np.array([False]))[1].tolist() for _ in range(2)]
    [[False], [True]]
    """

    def __init__(self, n_features: int, k: int = 2, n: int = 3, end_after: int = 5) -> None:
        if not 1 <= k <= n or end_after < 1:
            raise ValueError(f"PersistenceGate: need 1 <= k <= n and end_after >= 1 (k={k}, n={n})")
        self.k = k
        self.n = n
        self.end_after = end_after
        self.history = np.zeros((n, n_features), dtype=bool)
        self.quiet = np.zeros(n_features, dtype=np.int64)
        self.drifting = np.zeros(n_features, dtype=bool)

    def update(self, significant: np.ndarray, confirmed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Feed one window; returns ``(started, ended)`` boolean arrays."""
        sig = np.asarray(significant, dtype=bool)
        if sig.shape != self.drifting.shape:
            raise ValueError(f"significant must have shape {self.drifting.shape}, got {sig.shape}")
        self.history = np.roll(self.history, 1, axis=0)
        self.history[0] = sig
        fire = self.history.sum(axis=0) >= self.k
        if confirmed is not None:
            fire |= sig & np.asarray(confirmed, dtype=bool)
        started = fire & ~self.drifting
        self.quiet = np.where(sig, 0, self.quiet + 1)
        ended = self.drifting & (self.quiet >= self.end_after)
        self.drifting = (self.drifting | started) & ~ended
        return started, ended

    def to_state(self) -> dict[str, Any]:
        return {
            "history": self.history.astype(int).tolist(),
            "quiet": self.quiet.tolist(),
            "drifting": self.drifting.tolist(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        history = np.asarray(state["history"], dtype=bool)
        if history.shape != self.history.shape:
            raise ValueError(f"PersistenceGate state: history shape {history.shape} != {self.history.shape}")
        self.history = history
        self.quiet = np.asarray(state["quiet"], dtype=np.int64)
        self.drifting = np.asarray(state["drifting"], dtype=bool)
