"""Concept drift on the joined error stream of one model (outcomes: prediction vs label).

``ConceptTracker`` wraps the configured detector (``window``: our ``ErrorRateTest``; or one of River's
DDM, EDDM, HDDM_A, HDDM_W, FHDDM) and turns its state into ``DriftEvent`` transitions of kind
``concept``. River detectors reset after a detection, so their drift "ends" after
``concept_window * end_after`` outcomes without a new detection. ``ErrorRateTest``'s per-window level is
calibrated like the feature tests': from the model's false-alarm budget and the outcome rate measured
over its reference.

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> tracker = ConceptTracker(DriftConfig(concept_reference_size=100, concept_window=100))
>>> out = [e for i in range(1000) for e in tracker.update(i >= 400 and i % 2 == 0, "m", t + timedelta(seconds=i))]
>>> [(e.kind, e.state, e.detector) for e in out]
[('concept', 'started', 'error_rate_window')]
>>> round(tracker.detector.level, 6)  # 1 alarm per week at 1 outcome per second, windows of 100
0.000165
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

import numpy as np
from river import base
from scipy import special

from mlmon_common.events import DriftEvent
from mlmon_drift.alarms import window_alpha
from mlmon_drift.config import DriftConfig
from mlmon_drift.detectors import make_detector
from mlmon_drift.stats import variance_inflation


class ErrorRateTest(base.BinaryDriftDetector):
    """Concept drift on a 0/1 error stream: short and long windows tested against a reference.

    The first ``reference_size`` inputs give the reference rate ``p0`` and the stream's variance inflation
    (long-run over Bernoulli variance from the reference's own autocorrelation, Bartlett weights up to
    ``max_lag``): a healthy model's error rate follows its inputs (seasons, autocorrelated traffic), so
    windows vary more than independent coin flips would. Every ``window`` inputs, one-sided z-tests of the
    last window and of the last ``long_windows`` windows against ``p0`` (variance
    ``p0 (1 - p0) inflation (1/n + 1/m)``), each at ``level / 2``. A drift starts when ``k`` of the last
    ``n`` windows are significant and ends after ``end_after`` quiet windows. ``level`` starts at ``alpha``;
    ``ConceptTracker`` recalibrates it from the false-alarm budget. ``drifting`` holds the state.

    >>> import random
    >>> rng = random.Random(3)
    >>> det = ErrorRateTest(reference_size=1000, window=300, alpha=1e-3)
    >>> errs = [rng.random() < 0.1 for _ in range(2000)] + [rng.random() < 0.25 for _ in range(1000)]
    >>> [i for i, e in enumerate(errs) if det.update(e).drift_detected], round(det.inflation, 2)
    ([2499], 1.15)
    """

    def __init__(
        self,
        reference_size: int = 2000,
        window: int = 300,
        long_windows: int = 5,
        alpha: float = 1e-3,
        k: int = 2,
        n: int = 3,
        end_after: int = 5,
        max_lag: int = 50,
    ) -> None:
        super().__init__()
        if min(reference_size, window, long_windows, end_after, max_lag) < 1 or not 0 < alpha < 1 or not 1 <= k <= n:
            raise ValueError("ErrorRateTest: need sizes, end_after, max_lag >= 1, 0 < alpha < 1, 1 <= k <= n")
        self.reference_size = reference_size
        self.window = window
        self.long_windows = long_windows
        self.alpha = alpha
        self.k = k
        self.n = n
        self.end_after = end_after
        self.max_lag = max_lag
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self.ref_bits = ""  # the reference inputs while it is built ("0"/"1"), for the inflation
        self.ref_count = self.ref_errors = 0
        self.inflation = 1.0
        self.level = self.alpha
        self.win_count = self.win_errors = 0
        self.recent: list[list[int]] = []  # [errors, count] of the last long_windows windows
        self.history: list[bool] = []
        self.quiet = 0
        self.drifting = False
        self.last_p = 1.0
        self.last_rate = self.last_long_rate = 0.0

    @property
    def ready(self) -> bool:
        return self.ref_count >= self.reference_size

    @property
    def reference_rate(self) -> float:
        return (self.ref_errors + 0.5) / (self.ref_count + 1.0)

    def update(self, x: bool) -> ErrorRateTest:  # type: ignore[override]
        self._drift_detected = False
        if not self.ready:
            self.ref_count += 1
            self.ref_errors += bool(x)
            self.ref_bits += "1" if x else "0"
            if self.ready:
                self._finish_reference()
            return self
        self.win_count += 1
        self.win_errors += bool(x)
        if self.win_count >= self.window:
            self._close_window()
        return self

    def _finish_reference(self) -> None:
        if len(self.ref_bits) > 2 * self.max_lag:
            bits = np.frombuffer(self.ref_bits.encode(), dtype=np.uint8) - ord("0")
            self.inflation = float(variance_inflation(bits[:, None].astype(np.float64), self.max_lag)[0])
        self.ref_bits = ""

    def _p_value(self, errors: int, count: int) -> float:
        p0 = self.reference_rate
        se = math.sqrt(p0 * (1 - p0) * self.inflation * (1 / count + 1 / self.ref_count))
        return float(special.ndtr(-(errors / count - p0) / se))

    def _close_window(self) -> None:
        self.recent = [*self.recent, [self.win_errors, self.win_count]][-self.long_windows :]
        long_errors, long_count = (sum(col) for col in zip(*self.recent, strict=True))
        self.last_rate, self.last_long_rate = self.win_errors / self.win_count, long_errors / long_count
        self.last_p = min(self._p_value(self.win_errors, self.win_count), self._p_value(long_errors, long_count))
        significant = self.last_p < self.level / 2
        self.history = [*self.history, significant][-self.n :]
        self.win_count = self.win_errors = 0
        if not self.drifting and sum(self.history) >= self.k:
            self.drifting = self._drift_detected = True
            self.quiet = 0
        elif self.drifting:
            self.quiet = 0 if significant else self.quiet + 1
            self.drifting = self.quiet < self.end_after

    _STATE = (
        "ref_bits",
        "ref_count",
        "ref_errors",
        "inflation",
        "level",
        "win_count",
        "win_errors",
        "recent",
        "history",
        "quiet",
        "drifting",
        "last_p",
        "last_rate",
        "last_long_rate",
    )

    def to_state(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self._STATE}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore ``to_state()``; a checkpoint of the older ``ErrorRateWindow`` (a subset) loads too."""
        unknown = set(state) - set(self._STATE)
        if unknown:
            raise ValueError(f"ErrorRateTest state: unknown field {sorted(unknown)[0]!r}")
        for key, value in state.items():
            setattr(self, key, value)


class ConceptTracker:
    """Error-stream detector of one model with drift started/ended transitions."""

    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.name = config.concept_detector
        self.outcomes = 0
        self.last_detection: int | None = None
        self.drifting = False
        self.first_at: datetime | None = None  # event times over the reference (outcome rate)
        self.last_at: datetime | None = None
        self.timed = 0
        if self.name == "window":
            self.detector: Any = ErrorRateTest(
                reference_size=config.concept_reference_size,
                window=config.concept_window,
                long_windows=config.concept_long_windows,
                alpha=config.max_alpha,
                k=config.persistence_k,
                n=config.persistence_n,
                end_after=config.end_after,
            )
        else:
            self.detector = make_detector(self.name)

    @property
    def detector_name(self) -> str:
        return "error_rate_window" if self.name == "window" else self.name

    def update(self, error: bool, model_id: str, at: datetime) -> list[DriftEvent]:
        self.outcomes += 1
        if isinstance(self.detector, ErrorRateTest) and not self.detector.ready:
            self.first_at, self.last_at, self.timed = self.first_at or at, at, self.timed + 1
            self.detector.update(bool(error))
            if self.detector.ready:
                self.detector.level = self._calibrated_level()
            return []
        self.detector.update(bool(error))
        if isinstance(self.detector, ErrorRateTest):
            now_drifting = bool(self.detector.drifting)
        else:
            if self.detector.drift_detected:
                self.last_detection = self.outcomes
            quiet_for = self.config.concept_window * self.config.end_after
            now_drifting = self.last_detection is not None and self.outcomes - self.last_detection < quiet_for
        if now_drifting == self.drifting:
            return []
        self.drifting = now_drifting
        return [self._event("started" if now_drifting else "ended", model_id, at)]

    def _calibrated_level(self) -> float:
        """Per-window level from the budget and the outcome rate over the reference (as for features)."""
        cfg = self.config
        span = (self.last_at - self.first_at).total_seconds() if self.first_at and self.last_at else 0.0
        rate = (self.timed - 1) / span if span > 0 else cfg.default_events_per_second
        return window_alpha(
            cfg.false_alarms_per_week, events_per_second=rate, window_events=cfg.concept_window, max_alpha=cfg.max_alpha
        )

    def _event(self, state: Literal["started", "ended", "snapshot"], model_id: str, at: datetime) -> DriftEvent:
        details: dict[str, Any] = {"outcomes": self.outcomes}
        score, p_value, threshold = float(self.drifting), None, None
        if isinstance(self.detector, ErrorRateTest):
            det = self.detector
            score, p_value, threshold = det.last_rate, det.last_p, det.level / 2
            details |= {
                "reference_error_rate": det.reference_rate,
                "long_window_error_rate": det.last_long_rate,
                "variance_inflation": det.inflation,
            }
        return DriftEvent(
            model_id=model_id,
            occurred_at=at,
            kind="concept",
            state=state,
            detector=self.detector_name,
            score=score,
            threshold=threshold,
            p_value=p_value,
            window_events=self.config.concept_window,
            details=details,
        )

    def snapshot(self, model_id: str, at: datetime) -> list[DriftEvent]:
        return [self._event("snapshot", model_id, at)] if self.outcomes else []

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "outcomes": self.outcomes,
            "last_detection": self.last_detection,
            "drifting": self.drifting,
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "timed": self.timed,
        }
        if isinstance(self.detector, ErrorRateTest):
            state["detector"] = self.detector.to_state()
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore counters and state; River detectors restart empty (their drift state is kept)."""
        self.outcomes = int(state["outcomes"])
        self.last_detection = state["last_detection"]
        self.drifting = bool(state["drifting"])
        self.first_at = datetime.fromisoformat(state["first_at"]) if state.get("first_at") else None
        self.last_at = datetime.fromisoformat(state["last_at"]) if state.get("last_at") else None
        self.timed = int(state.get("timed", 0))
        if isinstance(self.detector, ErrorRateTest) and "detector" in state:
            self.detector.load_state(state["detector"])
            if self.detector.ready and "level" not in state["detector"]:  # an ErrorRateWindow checkpoint
                self.detector.level = self._calibrated_level()
