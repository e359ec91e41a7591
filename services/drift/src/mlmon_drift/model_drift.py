"""Model drift: how far a model's performance fell from its reference.

``ModelDriftMonitor.analyze_drift(model, performance_history)`` takes a time-ordered history of metric
values (list of dicts or a DataFrame; non-metric columns such as ``timestamp`` are ignored) and reports,
per metric, the relative drop of the recent level vs the reference level (positive = worse, for
"lower is better" metrics like ``latency`` or ``error_rate`` too), the trend slope per step and the
most likely change point. ``model_drift`` is the largest relative drop, comparable to the default
``model_drift_max`` of 0.15.

>>> history = [{"accuracy": 0.95}] * 10 + [{"accuracy": 0.76}] * 5
>>> report = ModelDriftMonitor().analyze_drift("churn", history)
>>> round(report.model_drift, 6), report.drifted, report.metrics["accuracy"].change_point
(0.2, True, 10)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

LOWER_IS_BETTER = ("latency", "error", "loss", "mae", "mse", "rmse", "mape")
#: Columns of a history that are not performance metrics.
NOT_METRICS = frozenset({"timestamp", "time", "window_start", "window_end", "step", "epoch", "count", "revision"})


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(token in name for token in LOWER_IS_BETTER)


def change_point(values: np.ndarray, min_size: int = 2) -> tuple[int | None, float]:
    """Split index minimising the within-segment squared error, and its shift t-statistic."""
    n = values.size
    if n < 2 * min_size:
        return None, 0.0
    csum, csq = np.cumsum(values), np.cumsum(values**2)
    k = np.arange(min_size, n - min_size + 1)
    left_sse = csq[k - 1] - csum[k - 1] ** 2 / k
    right_sum, right_sq = csum[-1] - csum[k - 1], csq[-1] - csq[k - 1]
    right_sse = right_sq - right_sum**2 / (n - k)
    best = int(k[np.argmin(left_sse + right_sse)])
    before, after = values[:best], values[best:]
    pooled = np.sqrt(((before.var() * before.size) + (after.var() * after.size)) / max(n - 2, 1))
    shift = after.mean() - before.mean()
    se = pooled * np.sqrt(1 / before.size + 1 / after.size)
    t = float(shift / se) if se > 0 else (float("inf") if shift else 0.0)
    return best, t


@dataclass(frozen=True)
class MetricDrift:
    reference: float
    recent: float
    relative_drop: float
    slope: float
    change_point: int | None
    change_t: float


@dataclass(frozen=True)
class ModelDriftReport:
    model: str
    metrics: dict[str, MetricDrift]
    model_drift: float
    threshold: float
    drifted: bool
    worst_metric: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metrics"] = {k: asdict(v) for k, v in self.metrics.items()}
        return out


class ModelDriftMonitor:
    """Relative performance drop per metric; ``reference_points`` first values are the reference."""

    def __init__(self, threshold: float = 0.15, reference_points: int | None = None, recent_points: int = 5):
        if threshold < 0 or recent_points < 1 or (reference_points is not None and reference_points < 1):
            raise ValueError("threshold must be >= 0, recent_points and reference_points >= 1")
        self.threshold = threshold
        self.reference_points = reference_points
        self.recent_points = recent_points

    def _series(self, history: pd.DataFrame | Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        frame = history if isinstance(history, pd.DataFrame) else pd.DataFrame(list(history))
        if frame.empty:
            raise ValueError("performance_history: at least one entry is required")
        out: dict[str, np.ndarray] = {}
        for col in frame.columns:
            if str(col).lower() in NOT_METRICS:
                continue
            if pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
                values = frame[col].dropna().to_numpy(dtype=np.float64)
                if values.size:
                    out[str(col)] = values
        if not out:
            raise ValueError("performance_history: no numeric metric column")
        return out

    def _metric(self, name: str, values: np.ndarray) -> MetricDrift:
        n_ref = self.reference_points or max(1, values.size // 2)
        ref = float(values[: min(n_ref, values.size)].mean())
        recent = float(values[-min(self.recent_points, max(values.size - n_ref, 1)) :].mean())
        change = (recent - ref) if lower_is_better(name) else (ref - recent)
        drop = change / abs(ref) if ref else (0.0 if change == 0 else float("inf"))
        slope = float(np.polyfit(np.arange(values.size), values, 1)[0]) if values.size > 1 else 0.0
        cp, t = change_point(values)
        return MetricDrift(ref, recent, float(drop), slope, cp, t)

    def analyze_drift(
        self, model: str, performance_history: pd.DataFrame | Sequence[Mapping[str, Any]]
    ) -> ModelDriftReport:
        metrics = {n: self._metric(n, v) for n, v in self._series(performance_history).items()}
        worst = max(metrics, key=lambda n: metrics[n].relative_drop)
        score = max(0.0, metrics[worst].relative_drop)
        return ModelDriftReport(
            str(model), metrics, score, self.threshold, score > self.threshold, worst if score > 0 else None
        )
