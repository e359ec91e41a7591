"""Verification before promotion: candidate vs current on the most recent held-out window.

A candidate is promoted only if it beats the current model by at least ``margin`` on the configured metric
(accuracy: higher is better; log loss: lower is better). The result records both metrics and the decision;
it goes into the plan's result and the ``mlmon.maintenance.v1`` event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np

from mlmon_maintenance.config import Verification
from mlmon_maintenance.retrain import Row

_EPS = 1e-12


class Scorer(Protocol):
    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray: ...

    def targets(self, rows: Sequence[Row]) -> np.ndarray: ...


@dataclass(frozen=True)
class VerificationResult:
    metric: str
    before: dict[str, float] | None
    after: dict[str, float]
    improvement: float | None
    margin: float
    decision: Literal["promote", "reject"]
    reason: str
    holdout_rows: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_recent(rows: Sequence[Row], fraction: float, min_holdout: int) -> tuple[list[Row], list[Row]]:
    """(older rows to train on, the most recent ``ceil(n * fraction)`` rows held out)."""
    n_holdout = math.ceil(len(rows) * fraction)
    if n_holdout < min_holdout:
        raise ValueError(f"holdout: {n_holdout} recent rows (of {len(rows)}) < min_holdout_rows {min_holdout}")
    if n_holdout >= len(rows):
        raise ValueError(f"holdout: fraction {fraction} leaves no rows to train on")
    return list(rows[:-n_holdout]), list(rows[-n_holdout:])


def evaluate(model: Scorer, rows: Sequence[Row]) -> dict[str, float]:
    """Accuracy (threshold 0.5) and mean log loss of ``model`` on ``rows``."""
    if not rows:
        raise ValueError("rows: cannot evaluate on an empty window")
    p = np.clip(model.predict_proba(rows), _EPS, 1 - _EPS)
    y = model.targets(rows)
    accuracy = float(np.mean((p >= 0.5) == (y == 1.0)))
    log_loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {"accuracy": round(accuracy, 6), "log_loss": round(log_loss, 6)}


def verify(candidate: Scorer, current: Scorer | None, holdout: Sequence[Row], cfg: Verification) -> VerificationResult:
    """Decide promote/reject for ``candidate`` against ``current`` (``None``: nothing in production)."""
    after = evaluate(candidate, holdout)
    if current is None:
        return VerificationResult(
            cfg.metric, None, after, None, cfg.margin, "promote", "no current model", len(holdout)
        )
    before = evaluate(current, holdout)
    sign = 1.0 if cfg.metric == "accuracy" else -1.0
    improvement = round(sign * (after[cfg.metric] - before[cfg.metric]), 6)
    better = improvement >= cfg.margin
    verb = "meets" if better else "is below"
    reason = f"{cfg.metric} improvement {improvement:g} {verb} margin {cfg.margin:g}"
    decision: Literal["promote", "reject"] = "promote" if better else "reject"
    return VerificationResult(cfg.metric, before, after, improvement, cfg.margin, decision, reason, len(holdout))
