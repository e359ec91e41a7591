"""Concept drift on the joined error stream of one model (outcomes: prediction vs label).

``ConceptTracker`` wraps the configured detector (``window``: our ``ErrorRateWindow``; or one of
River's DDM, EDDM, HDDM_A, HDDM_W, FHDDM) and turns its state into ``DriftEvent`` transitions of kind
``concept``. River detectors reset after a detection, so their drift "ends" after
``concept_window * end_after`` outcomes without a new detection.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> tracker = ConceptTracker(DriftConfig(concept_reference_size=100, concept_window=100))
>>> out = [e for i in range(1000) for e in tracker.update(i >= 400 and i % 2 == 0, "m", t)]
>>> [(e.kind, e.state, e.detector) for e in out]
[('concept', 'started', 'error_rate_window')]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from mlmon_common.events import DriftEvent
from mlmon_drift.config import DriftConfig
from mlmon_drift.detectors import ErrorRateWindow, make_detector


class ConceptTracker:
    """Error-stream detector of one model with drift started/ended transitions."""

    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.name = config.concept_detector
        self.outcomes = 0
        self.last_detection: int | None = None
        self.drifting = False
        if self.name == "window":
            self.detector: Any = ErrorRateWindow(
                reference_size=config.concept_reference_size,
                window=config.concept_window,
                alpha=1e-3,
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
        self.detector.update(bool(error))
        if self.name == "window":
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

    def _event(self, state: Literal["started", "ended", "snapshot"], model_id: str, at: datetime) -> DriftEvent:
        details: dict[str, Any] = {"outcomes": self.outcomes}
        score, p_value, threshold = float(self.drifting), None, None
        if isinstance(self.detector, ErrorRateWindow):
            score, p_value, threshold = self.detector.last_rate, self.detector.last_p, self.detector.alpha
            details["reference_error_rate"] = self.detector.reference_rate
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
        }
        if isinstance(self.detector, ErrorRateWindow):
            state["detector"] = self.detector.to_state()
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore counters and state; River detectors restart empty (their drift state is kept)."""
        self.outcomes = int(state["outcomes"])
        self.last_detection = state["last_detection"]
        self.drifting = bool(state["drifting"])
        if isinstance(self.detector, ErrorRateWindow) and "detector" in state:
            self.detector.load_state(state["detector"])
