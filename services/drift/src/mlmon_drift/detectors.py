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

from typing import Any

import numpy as np
from river import base, drift
from river.drift import binary

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
