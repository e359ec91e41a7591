"""Seeded synthetic streams with known change points, for the quality harness (``evaluate``).

Every scenario shares one realistic base stream of 14 features (10 numeric, 4 categorical) with
seasonality, AR noise, skew and outliers, ties (integer and rounded values), nulls and a long-tailed
category; a scenario then injects one change at ``change_at`` into ``affected`` features (or into the
error stream for concept drift). ``control`` injects nothing.

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
    x[:, 6] = 0.5 * season + 0.85 * _ar(rng, n, 0.8)
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
    "concept_0.08": (_nothing, (), "error rate 0.10 -> 0.18"),
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
    error_rate = np.full(length, BASE_ERROR_RATE)
    if name.startswith("concept") and change_at is not None:
        error_rate[change_at:] += 0.08
    errors = (rng.random(length) < error_rate).tolist()
    return Scenario(
        name, _rows(x, cats), score.tolist(), errors, change_at, affected, name.startswith("concept"), magnitude
    )
