"""Seeded synthetic streams with known change points, for the quality harness (``evaluate``).

Every scenario shares one realistic base stream of 14 features (10 numeric, 4 categorical) with
seasonality, AR noise, skew and outliers, ties (integer and rounded values), nulls and a long-tailed
category; a scenario then injects one change at ``change_at`` into ``affected`` features (or into the
error stream for concept drift). ``control`` injects nothing.

The error stream is not i.i.d.: like a healthy production model's, its error probability follows the
inputs. The error odds double per standard deviation of ``n6`` (seasonal cycle + AR(0.8) noise), so the
error rate swings with the season and drifts with the AR noise (0.03 to 0.22, 5th-95th percentile) while
its average stays ``BASE_ERROR_RATE``; concept scenarios add their rise on top of that.

>>> s = generate("mean_1.0", seed=1, length=2000, change_at=1500)
>>> len(s.rows), s.change_at, s.affected
(2000, 1500, ('n1', 'n7'))
>>> sorted(s.rows[0])[:3], s.rows[0]["c2"] in (True, False)
(['c0', 'c1', 'c2'], True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUMERIC = tuple(f"n{i}" for i in range(10))
CATEGORICAL = ("c0", "c1", "c2", "c3")
SEASON = 200
C0_LEVELS, C0_P = ("a", "b", "c", "d"), (0.4, 0.3, 0.2, 0.1)
C0_SHIFTED = (0.3, 0.3, 0.2, 0.2)  # total variation distance 0.1
BASE_ERROR_RATE = 0.10
CONCEPT_RISE = 0.08
ERROR_LOGIT_PER_SD = float(np.log(2.0))  # error odds x2 per standard deviation of n6
N6_SEASON, N6_AR = 0.5, 0.85  # n6 = 0.5 * season + 0.85 * AR(0.8), unit-variance AR


@dataclass
class Scenario:
    name: str
    rows: list[dict[str, Any]]
    scores: list[float]
    errors: list[bool]
    change_at: int | None
    affected: tuple[str, ...]
    concept: bool = False
    magnitude: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _ar(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.normal(size=n) * np.sqrt(1 - phi**2)
    out = np.empty(n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def base_numeric(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 10) numeric base stream; NaN = null."""
    t = np.arange(n)
    season = np.sin(2 * np.pi * t / SEASON)
    x = np.empty((n, 10))
    x[:, 0] = rng.normal(size=n)
    x[:, 1] = _ar(rng, n, 0.5)
    x[:, 2] = 0.6 * season + 0.8 * rng.normal(size=n)
    x[:, 3] = rng.lognormal(0, 0.5, size=n)
    out = rng.random(n) < 0.005
    x[out, 3] = rng.choice([-30.0, 30.0], size=int(out.sum()))
    x[:, 4] = rng.poisson(3, size=n)
    x[:, 5] = np.round(rng.normal(size=n), 1)
    x[rng.random(n) < 0.05, 5] = np.nan
    x[:, 6] = N6_SEASON * season + N6_AR * _ar(rng, n, 0.8)
    x[:, 7] = rng.normal(10, 2, size=n)
    x[rng.random(n) < 0.10, 7] = np.nan
    x[:, 8] = rng.uniform(0, 1, size=n)
    x[:, 9] = np.where(rng.random(n) < 0.3, rng.normal(-2, 0.5, n), rng.normal(1, 0.7, n))
    return x


def _categorical(rng: np.random.Generator, n: int, c0_p: np.ndarray) -> list[np.ndarray]:
    zipf = np.power(np.arange(1.0, 31.0), -1.2)
    return [
        np.array([C0_LEVELS[i] for i in _choice_rows(rng, c0_p)]),
        rng.choice(np.array(["x", "y", "z"]), size=n, p=[0.5, 0.3, 0.2]),
        rng.random(n) < 0.3,
        rng.choice(np.array([f"L{i}" for i in range(30)]), size=n, p=zipf / zipf.sum()),
    ]


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One level index per row from per-row probabilities (rows of ``probs``)."""
    u = np.asarray(rng.random(probs.shape[0]))[:, None]
    return np.asarray(np.minimum((u > probs.cumsum(axis=1)).sum(axis=1), probs.shape[1] - 1))


def _rows(x: np.ndarray, cats: list[np.ndarray]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(x.shape[0]):
        row: dict[str, Any] = {n: (None if np.isnan(v) else float(v)) for n, v in zip(NUMERIC, x[i], strict=True)}
        row["n4"] = None if row["n4"] is None else int(row["n4"])
        for name, col in zip(CATEGORICAL, cats, strict=True):
            row[name] = col[i].item()
        rows.append(row)
    return rows


def _n6_error_logit_scale() -> float:
    """Logit slope per unit of n6 (the stationary sd of n6 is sqrt(0.5**2 / 2 + 0.85**2))."""
    return ERROR_LOGIT_PER_SD / float(np.sqrt(N6_SEASON**2 / 2 + N6_AR**2))


def _error_intercept(mean: float) -> float:
    """Logit intercept giving an average error probability of ``mean`` over n6's stationary law.

    n6 = 0.5 sin(phase) + 0.85 Z (phase uniform, Z standard normal): the average is a quadrature over
    the phase (midpoint rule) and Z (Gauss-Hermite), solved for the intercept by bisection.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    phase = np.sin(2 * np.pi * (np.arange(400) + 0.5) / 400)
    n6 = N6_SEASON * phase[:, None] + N6_AR * nodes[None, :]
    slope = _n6_error_logit_scale()
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        avg = float((1 / (1 + np.exp(-(mid + slope * n6))) * weights).sum() / phase.size)
        lo, hi = (mid, hi) if avg < mean else (lo, mid)
    return (lo + hi) / 2


ERROR_INTERCEPT = _error_intercept(BASE_ERROR_RATE)


def error_probability(x: np.ndarray) -> np.ndarray:
    """Per-event error probability of the healthy model: logistic in n6, average ``BASE_ERROR_RATE``."""
    return np.asarray(1 / (1 + np.exp(-(ERROR_INTERCEPT + _n6_error_logit_scale() * x[:, 6]))))


Change = Callable[[np.random.Generator, np.ndarray, np.ndarray, int], None]


def _mean(size: float) -> Change:
    def apply(rng: np.random.Generator, x: np.ndarray, c0: np.ndarray, at: int) -> None:
        x[at:, 1] += size
        x[at:, 7] += 2.0 * size

    return apply


def _ramp(rng: np.random.Generator, x: np.ndarray, c0: np.ndarray, at: int) -> None:
    ramp = np.clip((np.arange(x.shape[0] - at)) / 1000, 0, 1)
    x[at:, 1] += ramp
    x[at:, 7] += 2.0 * ramp


def _variance(rng: np.random.Generator, x: np.ndarray, c0: np.ndarray, at: int) -> None:
    x[at:, 0] *= 1.5
    x[at:, 7] = 10 + (x[at:, 7] - 10) * 1.5


def _categories(rng: np.random.Generator, x: np.ndarray, c0: np.ndarray, at: int) -> None:
    c0[at:] = C0_SHIFTED


def _nothing(rng: np.random.Generator, x: np.ndarray, c0: np.ndarray, at: int) -> None:
    return None


SCENARIOS: dict[str, tuple[Change, tuple[str, ...], str]] = {
    "mean_0.5": (_mean(0.5), ("n1", "n7"), "0.5 sd"),
    "mean_1.0": (_mean(1.0), ("n1", "n7"), "1 sd"),
    "mean_2.0": (_mean(2.0), ("n1", "n7"), "2 sd"),
    "ramp_1.0": (_ramp, ("n1", "n7"), "0 -> 1 sd over 1000 events"),
    "variance_1.5": (_variance, ("n0", "n7"), "sd x 1.5"),
    "categorical_tv0.1": (_categories, ("c0",), "TV distance 0.1"),
    "concept_0.08": (_nothing, (), "error rate +0.08 (mean 0.10 -> 0.18)"),
    "control": (_nothing, (), "none"),
}


def generate(name: str, seed: int, length: int, change_at: int | None) -> Scenario:
    """The named scenario's stream; ``change_at`` is ignored for ``control``."""
    try:
        change, affected, magnitude = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"scenario: unknown name {name!r}; valid: {', '.join(SCENARIOS)}") from None
    if name == "control":
        change_at = None
    if change_at is not None and not 0 < change_at < length:
        raise ValueError(f"change_at must be in (0, {length}), got {change_at}")
    rng = np.random.default_rng(seed)
    x = base_numeric(rng, length)
    c0 = np.tile(np.array(C0_P), (length, 1))
    if change_at is not None:
        change(rng, x, c0, change_at)
    cats = _categorical(rng, length, c0)
    score = 1 / (1 + np.exp(-(np.nan_to_num(x[:, 8]) * 2 - 1 + 0.5 * x[:, 9])))
    error_rate = error_probability(x)
    if name.startswith("concept") and change_at is not None:
        error_rate[change_at:] += CONCEPT_RISE
    errors = (rng.random(length) < error_rate).tolist()
    concept = name.startswith("concept")
    extra = {"error_probability": error_rate}
    return Scenario(name, _rows(x, cats), score.tolist(), errors, change_at, affected, concept, magnitude, extra)
