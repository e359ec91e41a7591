"""Batch data drift: ``DataDriftMonitor.detect_drift(reference, current)`` on two tables.

Tables are pandas DataFrames or column dicts (name -> sequence, ``None``/NaN = missing). A column is
numeric when all its non-missing values in both tables are numbers (bool is categorical). Numeric
columns: KS statistic and p-value, Wasserstein-1 on values standardised by the reference, PSI on
reference-quantile bins. Categorical: two-sample chi-square (both tables are samples), PSI, Jensen-Shannon,
unseen-category rate.
Benjamini-Hochberg across columns decides ``drifted``; ``share`` is the drifted fraction.

>>> mon = DataDriftMonitor()
>>> ref = {"x": [float(i % 10) for i in range(200)], "c": ["a", "b"] * 100}
>>> cur = {"x": [float(i % 10) + 5 for i in range(200)], "c": ["a", "b"] * 100}
>>> report = mon.detect_drift(ref, cur)
>>> report.features["x"].drifted, report.features["c"].drifted, report.share
(True, False, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from mlmon_drift.alarms import benjamini_hochberg
from mlmon_drift.reference import category, is_number
from mlmon_drift.stats import (
    chi_square_two_sample,
    jensen_shannon,
    ks_test,
    psi_categorical,
    psi_numeric,
    quantile_edges,
    wasserstein,
)

Table: TypeAlias = pd.DataFrame | Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    test: str
    statistic: float
    p_value: float
    drifted: bool
    psi: float
    wasserstein: float | None = None
    jensen_shannon: float | None = None
    unseen_rate: float | None = None


@dataclass(frozen=True)
class DriftReport:
    features: dict[str, FeatureDrift]
    share: float
    drifted: bool
    threshold: float
    missing_in_current: list[str]
    new_in_current: list[str]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["features"] = {k: asdict(v) for k, v in self.features.items()}
        return out


def _columns(table: Table, which: str) -> dict[str, list[Any]]:
    if isinstance(table, pd.DataFrame):
        return {str(c): table[c].tolist() for c in table.columns}
    if not isinstance(table, Mapping):
        raise TypeError(f"{which}: expected a pandas DataFrame or a dict of columns, got {type(table).__name__}")
    out: dict[str, list[Any]] = {}
    for name, values in table.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | pd.Series):
            raise TypeError(f"{which}: column {name!r} must be a sequence of values")
        out[str(name)] = list(values)
    return out


def _present(values: list[Any]) -> list[Any]:
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


class DataDriftMonitor:
    """Compares a current table with a reference table, column by column."""

    def __init__(self, alpha: float = 0.05, share_threshold: float = 0.1, psi_bins: int = 10) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if not 0 <= share_threshold <= 1:
            raise ValueError(f"share_threshold must be in [0, 1], got {share_threshold}")
        self.alpha = alpha
        self.share_threshold = share_threshold
        self.psi_bins = psi_bins

    def detect_drift(self, reference: Table, current: Table) -> DriftReport:
        ref, cur = _columns(reference, "reference"), _columns(current, "current")
        common = [c for c in ref if c in cur]
        if not common:
            raise ValueError("reference and current share no column")
        rows: dict[str, dict[str, Any]] = {}
        for name in common:
            r, c = _present(ref[name]), _present(cur[name])
            if not r or not c:
                raise ValueError(f"column {name!r}: no non-missing values in {'reference' if not r else 'current'}")
            numeric = all(is_number(v) for v in r) and all(is_number(v) for v in c)
            rows[name] = self._numeric(name, r, c) if numeric else self._categorical(name, r, c)
        p = np.array([row["p_value"] for row in rows.values()])
        drifted = benjamini_hochberg(p, self.alpha)
        features = {n: FeatureDrift(**row, drifted=bool(d)) for (n, row), d in zip(rows.items(), drifted, strict=True)}
        share = float(drifted.mean())
        return DriftReport(
            features,
            share,
            share > self.share_threshold,
            self.share_threshold,
            [c for c in ref if c not in cur],
            [c for c in cur if c not in ref],
        )

    def _numeric(self, name: str, r: list[Any], c: list[Any]) -> dict[str, Any]:
        ra, ca = np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64)
        std = float(ra.std()) or 1.0
        ref_sorted = [np.sort((ra - ra.mean()) / std)]
        cur_z = ((ca - ra.mean()) / std)[:, None]
        d, p = ks_test(ref_sorted, cur_z)
        psi = psi_numeric(ref_sorted, quantile_edges(ref_sorted, self.psi_bins), cur_z)
        return {
            "feature": name,
            "kind": "numeric",
            "test": "ks",
            "statistic": float(d[0]),
            "p_value": float(p[0]),
            "psi": float(psi[0]),
            "wasserstein": float(wasserstein(ref_sorted, cur_z)[0]),
        }

    def _categorical(self, name: str, r: list[Any], c: list[Any]) -> dict[str, Any]:
        ref_counts = pd.Series([category(v) for v in r]).value_counts()
        cur_keys = pd.Series([category(v) for v in c])
        # levels expected < 5 times in the current sample are pooled with unseen ones (chi-square validity)
        kept = ref_counts[ref_counts / ref_counts.sum() * len(c) >= 5]
        kept = kept if len(kept) else ref_counts.iloc[:1]
        ref_levels = np.append(kept.to_numpy(dtype=float), ref_counts.sum() - kept.sum())
        ref_p = (ref_levels + 0.5) / (ref_levels + 0.5).sum()  # smoothed shares for PSI / Jensen-Shannon
        in_kept = cur_keys.isin(kept.index)
        pooled = int((~in_kept).sum())
        counts = np.append(cur_keys[in_kept].value_counts().reindex(kept.index, fill_value=0).to_numpy(), pooled)
        stat, p = chi_square_two_sample(ref_levels, counts[None, :])  # both tables are samples
        known = cur_keys.isin(ref_counts.index)
        return {
            "feature": name,
            "kind": "categorical",
            "test": "chi2",
            "statistic": float(stat[0]),
            "p_value": float(p[0]),
            "psi": float(psi_categorical(ref_p, counts)[0]),
            "jensen_shannon": float(jensen_shannon(ref_p, counts)[0]),
            "unseen_rate": float((~known).mean()),
        }
