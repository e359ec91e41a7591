"""``analyze_trends``: slope, relative change, change points, daily baseline and threshold forecasts.

Per series, on the points of the window (``x`` = days relative to ``now``):

1. a daily seasonal profile (24 hourly offsets of the detrended values) when the window covers at least
   two days and the profile explains at least ``SEASONAL_MIN_R2`` of the residual variance;
2. change points by binary segmentation: the level shift ``d`` of ``y = a + b x + d [x > x_k]`` with the
   largest t-statistic, kept if above ``CHANGE_Z``; segments of at least ``MIN_SEGMENT`` points;
3. a least-squares trend on the deseasonalized values since the last change point (the current regime);
4. a forecast of the threshold crossing ``x* = (thr - a) / b`` with an interval from the slope and level
   standard errors (``Z`` = 1.96); the slow bound is ``None`` (unbounded) when the slope is not
   significantly different from zero.

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2026, 1, 8, tzinfo=UTC)
>>> pts = [(now - timedelta(hours=h), 0.96 + 0.005 * h / 24) for h in range(168, -1, -1)]
>>> tr = analyze_trends({"accuracy": pts}, "7d", now=now)["accuracy"]
>>> round(tr.slope_per_day, 4), tr.change_points, tr.forecast.message
(-0.005, [], 'accuracy expected to fall below 0.95 in ~2 d (2 d to 2 d)')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from mlmon_reporting.api_shapes import MetricsResponse
from mlmon_reporting.config import Thresholds
from mlmon_reporting.thresholds import ThresholdRule, rules_for
from mlmon_reporting.timeframe import format_duration, parse_duration

Z = 1.96
CHANGE_Z = 6.0
MIN_SEGMENT = 8
MAX_CHANGE_POINTS = 3
SEASONAL_MIN_R2 = 0.3
MIN_POINTS = 6
#: Crossings further out than this are no forecast (and would overflow ``timedelta``).
MAX_ETA_DAYS = 3650.0

PointsLike = Sequence[tuple[datetime | float, float]]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChangePoint(_Out):
    at: datetime
    shift: float
    z: float


class Forecast(_Out):
    metric: str
    threshold: float
    direction: Literal["min", "max"]
    already_breached: bool
    eta_days: float
    eta_low_days: float
    eta_high_days: float | None
    at: datetime
    message: str


class Trend(_Out):
    metric: str
    points: int
    slope_per_day: float
    relative_change: float | None
    level: float
    seasonal: bool
    hourly_profile: list[float] | None
    change_points: list[ChangePoint]
    forecast: Forecast | None


def analyze_trends(
    metrics: MetricsResponse | Mapping[str, PointsLike],
    window: str = "7d",
    *,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Trend]:
    """Trends of every series with at least ``MIN_POINTS`` points in the window (others are skipped)."""
    span = parse_duration(window, field="window")
    series = _as_arrays(metrics)
    if now is None:
        ends = [t[-1] for t, _ in series.values() if len(t)]
        if not ends:
            return {}
        now = datetime.fromtimestamp(max(ends), UTC)
    rules = rules_for(thresholds or Thresholds())
    out: dict[str, Trend] = {}
    for name, (t, y) in series.items():
        keep = (t >= (now - span).timestamp()) & (t <= now.timestamp())
        if int(keep.sum()) >= MIN_POINTS:
            out[name] = trend_of(name, t[keep], y[keep], now, rules.get(name))
    return out


def trend_of(name: str, t: np.ndarray, y: np.ndarray, now: datetime, rule: ThresholdRule | None) -> Trend:
    x = (t - now.timestamp()) / 86400.0
    profile = seasonal_profile(t, x, y)
    ds = y - profile[_hours(t)] if profile is not None else y
    cps = change_points(x, ds)
    start = int(np.searchsorted(x, cps[-1][0], side="right")) if cps else 0
    if len(x) - start < MIN_SEGMENT:
        start = 0
    a, b, se_a, se_b = _ols(x[start:], ds[start:])
    first = a + b * x[0]
    return Trend(
        metric=name,
        points=len(x),
        slope_per_day=b,
        relative_change=(b * (x[-1] - x[0])) / abs(first) if first else None,
        level=a,
        seasonal=profile is not None,
        hourly_profile=[float(v) for v in profile] if profile is not None else None,
        change_points=[ChangePoint(at=now + timedelta(days=float(cx)), shift=float(d), z=float(z)) for cx, d, z in cps],
        forecast=forecast_crossing(name, rule, a, b, se_a, se_b, now) if rule else None,
    )


def _as_arrays(metrics: MetricsResponse | Mapping[str, PointsLike]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if isinstance(metrics, MetricsResponse):
        return {n: (np.asarray(d.t, float), np.asarray(d.mean, float)) for n, d in metrics.series.items()}
    out = {}
    for name, pts in metrics.items():
        t = np.asarray([p[0].timestamp() if isinstance(p[0], datetime) else float(p[0]) for p in pts], float)
        y = np.asarray([float(p[1]) for p in pts], float)
        order = np.argsort(t, kind="stable")
        ok = np.isfinite(y[order])
        out[name] = (t[order][ok], y[order][ok])
    return out


def _hours(t: np.ndarray) -> np.ndarray:
    return ((t // 3600) % 24).astype(int)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Intercept at x=0, slope, and their standard errors."""
    n = len(x)
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    if n < 3 or sxx == 0:
        return float(y.mean()), 0.0, float(y.std()), float("inf")
    b = float(((x - xm) * (y - y.mean())).sum() / sxx)
    a = float(y.mean() - b * xm)
    s = float(np.sqrt(((y - a - b * x) ** 2).sum() / (n - 2)))
    return a, b, s * float(np.sqrt(1 / n + xm**2 / sxx)), s / float(np.sqrt(sxx))


def seasonal_profile(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """24 hourly offsets (mean 0) of the detrended values, or ``None`` if not worth it."""
    if x[-1] - x[0] < 2.0:
        return None
    a, b, _, _ = _ols(x, y)
    resid = y - a - b * x
    hours = _hours(t)
    counts = np.bincount(hours, minlength=24)
    if (counts < 2).any():
        return None
    profile = np.bincount(hours, weights=resid, minlength=24) / counts
    profile -= profile.mean()
    total = float((resid**2).sum())
    if total == 0 or 1 - float(((resid - profile[hours]) ** 2).sum()) / total < SEASONAL_MIN_R2:
        return None
    return profile


def change_points(x: np.ndarray, y: np.ndarray, depth: int = 0) -> list[tuple[float, float, float]]:
    """(x of the last point before the shift, shift, z) for each level shift, in time order."""
    if depth >= MAX_CHANGE_POINTS or len(x) < 2 * MIN_SEGMENT:
        return []
    best = _best_split(x, y)
    if best is None or abs(best[2]) < CHANGE_Z:
        return []
    k, d, z = best
    left = change_points(x[: k + 1], y[: k + 1], depth + 1)
    right = change_points(x[k + 1 :], y[k + 1 :], depth + 1)
    return [*left, (float(x[k]), d, z), *right][:MAX_CHANGE_POINTS]


def _best_split(x: np.ndarray, y: np.ndarray) -> tuple[int, float, float] | None:
    n = len(x)
    candidates = range(MIN_SEGMENT - 1, n - MIN_SEGMENT)
    step = max(1, len(candidates) // 200)
    best: tuple[int, float, float] | None = None
    for k in list(candidates)[::step]:
        design = np.column_stack([np.ones(n), x, (np.arange(n) > k).astype(float)])
        coef, res, rank, _ = np.linalg.lstsq(design, y, rcond=None)
        if rank < 3:
            continue
        sse = float(res[0]) if len(res) else float(((y - design @ coef) ** 2).sum())
        var = sse / (n - 3)
        cov = np.linalg.inv(design.T @ design)
        se = float(np.sqrt(var * cov[2, 2]))
        scale = 1e-9 * max(1.0, float(np.abs(y).max()))
        z = float(coef[2] / se) if se > scale else (float("inf") if abs(coef[2]) > scale else 0.0)
        if best is None or abs(z) > abs(best[2]):
            best = (k, float(coef[2]), z)
    return best


def forecast_crossing(
    metric: str, rule: ThresholdRule, a: float, b: float, se_a: float, se_b: float, now: datetime
) -> Forecast | None:
    """When the trend crosses ``rule``; ``None`` if it moves away from (or parallel to) the threshold."""
    sign = -1.0 if rule.direction == "min" else 1.0
    if rule.breached(a):
        return _forecast(metric, rule, True, 0.0, 0.0, 0.0, now)
    toward = b * sign
    if toward <= 0:
        return None
    dist = abs(rule.value - a)
    near, far = max(dist - Z * se_a, 0.0), dist + Z * se_a
    fast, slow = toward + Z * se_b, toward - Z * se_b
    eta = dist / toward
    if eta > MAX_ETA_DAYS:
        return None
    high = far / slow if slow > 0 and far / slow <= MAX_ETA_DAYS else None
    return _forecast(metric, rule, False, eta, near / fast, high, now)


def _forecast(
    metric: str, rule: ThresholdRule, breached: bool, eta: float, low: float, high: float | None, now: datetime
) -> Forecast:
    verb = "fall below" if rule.direction == "min" else "rise above"
    if breached:
        message = f"{metric} is already {'below' if rule.direction == 'min' else 'above'} {rule.value:g}"
    else:
        hi = format_duration(timedelta(days=high)) if high is not None else "unbounded"
        message = (
            f"{metric} expected to {verb} {rule.value:g} in ~{format_duration(timedelta(days=round(eta)))}"
            f" ({format_duration(timedelta(days=low))} to {hi})"
        )
    return Forecast(
        metric=metric,
        threshold=rule.value,
        direction=rule.direction,
        already_breached=breached,
        eta_days=eta,
        eta_low_days=low,
        eta_high_days=high,
        at=now + timedelta(days=eta),
        message=message,
    )
