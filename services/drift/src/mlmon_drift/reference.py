"""Reference profiles: what "no drift" looks like for one model.

A profile is built from the first N events of a model (``ReferenceBuilder``) or from uploaded rows
(``ReferenceProfile.from_rows``). Numeric features keep mean, std, quantiles, a sorted sample and a
variance-inflation factor (serial correlation seen in the reference); categorical features keep level
counts. Profiles are versioned and round-trip through ``to_dict``/``from_dict`` (JSON-safe, for Redis).

>>> rows = [{"age": float(i), "plan": "a" if i % 4 else "b"} for i in range(100)]
>>> p = ReferenceProfile.from_rows(rows, model_id="m", version=1)
>>> sorted(p.numeric), sorted(p.categorical)
(['age'], ['plan'])
>>> p.numeric["age"].mean, p.categorical["plan"].levels
(49.5, {'a': 75, 'b': 25})
>>> ReferenceProfile.from_dict(p.to_dict()) == p
True
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from mlmon_drift.stats import variance_inflation

#: Pseudo-features the monitor adds: the model's score and its prediction.
SCORE = "__score__"
PREDICTION = "__prediction__"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
MAX_SAMPLE = 5000


def is_number(value: object) -> bool:
    """True for int/float that are finite (bool is categorical)."""
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def category(value: object) -> str:
    """The level key of a categorical value (booleans as JSON spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class NumericProfile:
    mean: float
    std: float
    quantiles: tuple[float, ...]
    sample: array[float]  # sorted; 8 bytes a value (a tuple of floats would take 32)
    null_rate: float
    inflation: float = 1.0

    def standardised_sample(self) -> np.ndarray:
        return (np.frombuffer(self.sample, dtype=np.float64) - self.mean) / self.std


@dataclass(frozen=True)
class CategoricalProfile:
    levels: dict[str, int]
    null_rate: float

    def probabilities(self, names: list[str]) -> np.ndarray:
        """Smoothed probabilities of ``names`` plus a last entry pooling every other level (unseen too)."""
        kept = [self.levels.get(n, 0) for n in names]
        rest = sum(self.levels.values()) - sum(kept)
        counts = np.array([*kept, rest], dtype=np.float64) + 0.5
        return np.asarray(counts / counts.sum())

    def testable_levels(self, min_expected: float, window: int) -> list[str]:
        """Levels expected at least ``min_expected`` times in ``window`` events (chi-square validity);
        rarer levels are pooled with unseen ones."""
        total = sum(self.levels.values())
        return [lv for lv, c in self.levels.items() if total and c / total * window >= min_expected]


def _numeric_profile(values: list[float], total: int, max_lag: int) -> NumericProfile:
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std()) if arr.size > 1 else 0.0
    std = std if std > 1e-12 else 1.0
    mean = float(arr.mean()) if arr.size else 0.0
    infl = float(variance_inflation(arr[:, None], max_lag)[0]) if arr.size >= 3 else 1.0
    srt = np.sort(arr)
    if srt.size > MAX_SAMPLE:
        srt = srt[np.linspace(0, srt.size - 1, MAX_SAMPLE).astype(int)]
    qs = tuple(float(q) for q in np.quantile(arr, QUANTILES)) if arr.size else ()
    return NumericProfile(mean, std, qs, array("d", srt.tobytes()), 1 - arr.size / total, infl)


def _categorical_profile(values: list[object], total: int, max_categories: int) -> CategoricalProfile:
    counts: dict[str, int] = {}
    for v in values:
        key = category(v)
        counts[key] = counts.get(key, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
    return CategoricalProfile(dict(top), 1 - len(values) / total)


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference of one model, one version."""

    model_id: str
    version: int
    n_events: int
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)
    events_per_second: float | None = None
    created_at: str | None = None

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        model_id: str,
        version: int = 1,
        events_per_second: float | None = None,
        created_at: datetime | None = None,
        max_categories: int = 200,
        max_lag: int = 50,
    ) -> ReferenceProfile:
        """Profile rows in arrival order; a column is numeric when all its non-null values are."""
        columns: dict[str, list[Any]] = {}
        total = 0
        for total, row in enumerate(rows, start=1):  # noqa: B007 - total counts rows
            for name, value in row.items():
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    columns.setdefault(name, []).append(value)
        if total == 0:
            raise ValueError("reference rows: at least one row is required")
        if version < 1:
            raise ValueError(f"version must be >= 1, got {version}")
        numeric: dict[str, NumericProfile] = {}
        categorical: dict[str, CategoricalProfile] = {}
        for name, values in columns.items():
            if all(is_number(v) for v in values):
                numeric[name] = _numeric_profile(values, total, max_lag)
            else:
                categorical[name] = _categorical_profile(values, total, max_categories)
        stamp = created_at.isoformat() if created_at else None
        return cls(model_id, version, total, numeric, categorical, events_per_second, stamp)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "version": self.version,
            "n_events": self.n_events,
            "events_per_second": self.events_per_second,
            "created_at": self.created_at,
            "numeric": {
                k: {**v.__dict__, "quantiles": list(v.quantiles), "sample": list(v.sample)}
                for k, v in self.numeric.items()
            },
            "categorical": {k: dict(v.__dict__) for k, v in self.categorical.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        try:
            numeric = {
                k: NumericProfile(
                    float(v["mean"]),
                    float(v["std"]),
                    tuple(v["quantiles"]),
                    array("d", map(float, v["sample"])),
                    float(v["null_rate"]),
                    float(v.get("inflation", 1.0)),
                )
                for k, v in data["numeric"].items()
            }
            categorical = {
                k: CategoricalProfile(dict(v["levels"]), float(v["null_rate"])) for k, v in data["categorical"].items()
            }
            return cls(
                str(data["model_id"]),
                int(data["version"]),
                int(data["n_events"]),
                numeric,
                categorical,
                data.get("events_per_second"),
                data.get("created_at"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"invalid reference profile: missing or malformed field {exc}") from exc


class ReferenceBuilder:
    """Collects the first ``size`` rows of a model; ``profile()`` once ``ready``."""

    def __init__(self, model_id: str, size: int, version: int = 1, max_categories: int = 200) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.model_id = model_id
        self.size = size
        self.version = version
        self.max_categories = max_categories
        self.rows: list[dict[str, Any]] = []
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None

    @property
    def ready(self) -> bool:
        return len(self.rows) >= self.size

    def add(self, row: dict[str, Any], at: datetime) -> None:
        if self.ready:
            return
        self.rows.append(row)
        self.first_at = self.first_at or at
        self.last_at = at

    def events_per_second(self) -> float | None:
        if self.first_at is None or self.last_at is None:
            return None
        span = (self.last_at - self.first_at).total_seconds()
        return (len(self.rows) - 1) / span if span > 0 else None

    def profile(self) -> ReferenceProfile:
        if not self.ready:
            raise ValueError(f"reference needs {self.size} rows, has {len(self.rows)}")
        return ReferenceProfile.from_rows(
            self.rows,
            model_id=self.model_id,
            version=self.version,
            events_per_second=self.events_per_second(),
            created_at=self.last_at,
            max_categories=self.max_categories,
        )
