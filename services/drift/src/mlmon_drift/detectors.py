"""Online drift detectors following River's contract, and a factory for River's own.

Own detectors keep their parameters verbatim as attributes, ``update(x)`` returns ``self`` and
``drift_detected`` tells whether the last update detected a drift. They work on standardised values
(reference mean 0, std 1). ``CusumBank`` is the same CUSUM vectorised across features, fed with block
means by the monitor (per-event Python work stays O(1) per feature).

>>> import random
>>> rng = random.Random(7)
>>> det = Cusum(k=0.5, h=8.0)
>>> stream = [rng.gauss(0, 1) for _ in range(500)] + [rng.gauss(1.5, 1) for _ in range(100)]
>>> [i for i, x in enumerate(stream) if det.update(x).drift_detected][:3]
[512, 518, 525]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from river import base, drift
from river.drift import binary
from scipy import special

NUMERIC_DETECTORS = ("ADWIN", "PageHinkley", "KSWIN")
BINARY_DETECTORS = ("DDM", "EDDM", "HDDM_A", "HDDM_W", "FHDDM")
_RIVER = {
    "ADWIN": drift.ADWIN,
    "PageHinkley": drift.PageHinkley,
    "KSWIN": drift.KSWIN,
    "DDM": binary.DDM,
    "EDDM": binary.EDDM,
    "HDDM_A": binary.HDDMA,
    "HDDM_W": binary.HDDMW,
    "FHDDM": binary.FHDDM,
}


def make_detector(name: str, **params: Any) -> base.DriftDetector | base.BinaryDriftDetector:
    """A River detector by name (``ADWIN``, ``PageHinkley``, ``KSWIN``; binary: ``DDM`` ... ``FHDDM``)."""
    try:
        cls = _RIVER[name]
    except KeyError:
        raise ValueError(f"detector: unknown name {name!r}; valid: {', '.join(_RIVER)}") from None
    detector: base.DriftDetector | base.BinaryDriftDetector = cls(**params)
    return detector


class Cusum(base.DriftDetector):
    """Two-sided CUSUM on standardised values: alarm when ``max(S+, S-) > h``, then restart.

    ``S+ = max(0, S+ + x - k)``, ``S- = max(0, S- - x - k)``; ``clip`` bounds each input (outliers).
    """

    def __init__(self, k: float = 0.5, h: float = 8.0, clip: float = 5.0) -> None:
        super().__init__()
        if k < 0 or h <= 0 or clip <= 0:
            raise ValueError(f"Cusum: k must be >= 0, h > 0, clip > 0 (got k={k}, h={h}, clip={clip})")
        self.k = k
        self.h = h
        self.clip = clip
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self.pos = 0.0
        self.neg = 0.0

    def update(self, x: float) -> Cusum:  # type: ignore[override]
        if self.drift_detected:
            self._reset()
        x = min(max(float(x), -self.clip), self.clip)
        self.pos = max(0.0, self.pos + x - self.k)
        self.neg = max(0.0, self.neg - x - self.k)
        self._drift_detected = max(self.pos, self.neg) > self.h
        return self


class CusumBank:
    """``Cusum`` for F features at once. ``update(z)`` takes a (rows, F) block; NaN = no update.

    Returns the features that alarmed during the block; alarmed features restart.
    """

    def __init__(self, n_features: int, k: float = 0.5, h: float = 8.0, clip: float = 5.0) -> None:
        self.k = k
        self.h = h
        self.clip = clip
        self.pos = np.zeros(n_features)
        self.neg = np.zeros(n_features)

    def update(self, z: np.ndarray) -> np.ndarray:
        z = np.clip(np.atleast_2d(z), -self.clip, self.clip)
        if z.shape[1] != self.pos.size:
            raise ValueError(f"CusumBank: expected {self.pos.size} columns, got {z.shape[1]}")
        alarmed = np.zeros(self.pos.size, dtype=bool)
        for row in z:
            ok = ~np.isnan(row)
            self.pos = np.where(ok, np.maximum(0.0, self.pos + row - self.k), self.pos)
            self.neg = np.where(ok, np.maximum(0.0, self.neg - row - self.k), self.neg)
            hit = np.maximum(self.pos, self.neg) > self.h
            if hit.any():
                alarmed |= hit
                self.pos[hit] = 0.0
                self.neg[hit] = 0.0
        return alarmed

    def to_state(self) -> dict[str, list[float]]:
        return {"pos": self.pos.tolist(), "neg": self.neg.tolist()}

    def load_state(self, state: dict[str, list[float]]) -> None:
        pos, neg = np.asarray(state["pos"], dtype=float), np.asarray(state["neg"], dtype=float)
        if pos.shape != self.pos.shape or neg.shape != self.neg.shape:
            raise ValueError("CusumBank state: feature count does not match")
        self.pos, self.neg = pos, neg


class ErrorRateWindow(base.BinaryDriftDetector):
    """Concept drift on a 0/1 error stream: windowed one-sided test of the error rate vs a reference.

    The first ``reference_size`` inputs give the reference rate ``p0``; then every ``window`` inputs
    a z-test of the window rate against ``p0`` (both sampling errors). A drift starts when ``k`` of the
    last ``n`` windows are significant at ``alpha`` and ends after ``end_after`` quiet windows.
    ``drift_detected`` is True on the update that started a drift; ``drifting`` holds the state.

    >>> import random
    >>> rng = random.Random(3)
    >>> det = ErrorRateWindow(reference_size=500, window=300, alpha=1e-3)
    >>> errs = [rng.random() < 0.1 for _ in range(2000)] + [rng.random() < 0.25 for _ in range(1000)]
    >>> [i for i, e in enumerate(errs) if det.update(e).drift_detected]
    [2599]
    """

    def __init__(
        self,
        reference_size: int = 500,
        window: int = 300,
        alpha: float = 1e-3,
        k: int = 2,
        n: int = 3,
        end_after: int = 5,
    ) -> None:
        super().__init__()
        if reference_size < 1 or window < 1 or not 0 < alpha < 1 or not 1 <= k <= n or end_after < 1:
            raise ValueError("ErrorRateWindow: need reference_size, window, end_after >= 1, 0<alpha<1, k<=n")
        self.reference_size = reference_size
        self.window = window
        self.alpha = alpha
        self.k = k
        self.n = n
        self.end_after = end_after
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self.ref_count = 0
        self.ref_errors = 0
        self.win_count = 0
        self.win_errors = 0
        self.history: list[bool] = []
        self.quiet = 0
        self.drifting = False
        self.last_p = 1.0
        self.last_rate = 0.0

    @property
    def reference_rate(self) -> float:
        return (self.ref_errors + 0.5) / (self.ref_count + 1.0)

    def update(self, x: bool) -> ErrorRateWindow:  # type: ignore[override]
        self._drift_detected = False
        if self.ref_count < self.reference_size:
            self.ref_count += 1
            self.ref_errors += bool(x)
            return self
        self.win_count += 1
        self.win_errors += bool(x)
        if self.win_count >= self.window:
            self._close_window()
        return self

    def _close_window(self) -> None:
        p0 = self.reference_rate
        rate = self.win_errors / self.win_count
        se = math.sqrt(p0 * (1 - p0) * (1 / self.win_count + 1 / self.ref_count))
        self.last_p = float(special.ndtr(-(rate - p0) / se))
        self.last_rate = rate
        significant = self.last_p < self.alpha
        self.history = [*self.history, significant][-self.n :]
        self.win_count = self.win_errors = 0
        if not self.drifting and sum(self.history) >= self.k:
            self.drifting = self._drift_detected = True
            self.quiet = 0
        elif self.drifting:
            self.quiet = 0 if significant else self.quiet + 1
            self.drifting = self.quiet < self.end_after

    def to_state(self) -> dict[str, Any]:
        keys = ("ref_count", "ref_errors", "win_count", "win_errors", "history", "quiet", "drifting")
        return {k: getattr(self, k) for k in keys} | {"last_p": self.last_p, "last_rate": self.last_rate}

    def load_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            if not hasattr(self, key):
                raise ValueError(f"ErrorRateWindow state: unknown field {key!r}")
            setattr(self, key, value)
