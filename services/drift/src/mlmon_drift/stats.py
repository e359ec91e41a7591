"""Two-sample drift statistics, vectorised across features with numpy.

Numeric features compare a current window ``cur`` (shape ``(n, F)``, NaN = missing) with per-feature
sorted reference samples; categorical features compare level counts with the reference's level counts
(``chi_square_two_sample``: both are samples) or with known frequencies (``chi_square``).
All functions are pure; p-values use asymptotic distributions with an optional effective-size
correction (``inflation``: variance inflation of serially correlated streams, 1 = independent).

>>> import numpy as np
>>> ref = [np.array([0.0, 1.0, 2.0, 3.0])]
>>> d, p = ks_test(ref, np.array([[10.0], [11.0], [12.0], [13.0]]))
>>> float(d[0])
1.0
>>> round(float(chi_square(np.array([0.5, 0.5]), np.array([[50, 50]]))[0][0]), 6)
0.0
>>> stat, p = chi_square_two_sample(np.array([500, 500]), np.array([[60, 40], [50, 50]]))
>>> [round(float(s), 4) for s in stat], round(float(p[0]), 4)
([3.6376, 0.0], 0.0565)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]
_EPS = 1e-4


def _columns(cur: FloatArray, n_features: int) -> FloatArray:
    cur = np.asarray(cur, dtype=np.float64)
    if cur.ndim != 2 or cur.shape[1] != n_features:
        raise ValueError(f"cur must have shape (n, {n_features}), got {cur.shape}")
    return cur


def _inflation(inflation: FloatArray | None, n_features: int) -> FloatArray:
    if inflation is None:
        return np.ones(n_features)
    out = np.asarray(inflation, dtype=np.float64)
    if out.shape != (n_features,) or np.any(out < 1):
        raise ValueError(f"inflation must be {n_features} values >= 1")
    return out


def ks_statistics(ref_sorted: Sequence[FloatArray], cur: FloatArray) -> tuple[FloatArray, FloatArray]:
    """KS distance per feature and the current non-missing count per feature (NaNs dropped).

    The supremum of ``|F_ref - F_cur|`` is reached at a current point or just left of one (between
    current points ``F_cur`` is flat and ``F_ref`` monotone), so only ``2 n`` reference look-ups are
    needed per feature: O(n log m) for a window of n against a reference of m.
    """
    cur = np.sort(_columns(cur, len(ref_sorted)), axis=0)  # NaNs sort last
    counts = (~np.isnan(cur)).sum(axis=0)
    d = np.zeros(len(ref_sorted))
    for j, ref in enumerate(ref_sorted):
        n = int(counts[j])
        if n == 0 or ref.size == 0:
            continue
        col = cur[:n, j]
        f_cur_right = np.searchsorted(col, col, side="right") / n
        f_cur_left = np.searchsorted(col, col, side="left") / n
        f_ref_right = np.searchsorted(ref, col, side="right") / ref.size
        f_ref_left = np.searchsorted(ref, col, side="left") / ref.size
        d[j] = max(np.max(np.abs(f_ref_right - f_cur_right)), np.max(np.abs(f_ref_left - f_cur_left)))
    return d, counts.astype(np.float64)


def ks_pvalues(d: FloatArray, n: FloatArray, m: FloatArray, inflation: FloatArray | None = None) -> FloatArray:
    """Asymptotic two-sided KS p-values (Stephens' small-sample correction), effective sizes n/inflation."""
    infl = _inflation(inflation, d.size)
    n_eff = np.asarray(n, dtype=np.float64) / infl
    m_eff = np.asarray(m, dtype=np.float64) / infl
    with np.errstate(divide="ignore", invalid="ignore"):
        en = np.sqrt(n_eff * m_eff / (n_eff + m_eff))
        lam = (en + 0.12 + 0.11 / en) * d
    p = special.kolmogorov(np.nan_to_num(lam, nan=0.0))
    p = np.where((n > 0) & (m > 0), p, 1.0)
    return np.clip(p, 0.0, 1.0)


def ks_test(
    ref_sorted: Sequence[FloatArray], cur: FloatArray, inflation: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Two-sample Kolmogorov-Smirnov per feature: ``(statistic, p_value)`` arrays of length F."""
    d, n = ks_statistics(ref_sorted, cur)
    m = np.array([r.size for r in ref_sorted], dtype=np.float64)
    return d, ks_pvalues(d, n, m, inflation)


class KsReference:
    """KS against fixed references, all features in one pass (the monitor's per-window test).

    Feature ``j`` lives in its own band ``j * 3e4 + clip(x, ±1e4)`` of one sorted array, so four
    ``searchsorted`` calls cover every feature; statistics equal ``ks_statistics`` (values beyond
    1e4 reference units are clipped, which only matters for ties among such outliers).
    """

    _BAND, _CLIP = 3e4, 1e4

    def __init__(self, ref_sorted: Sequence[FloatArray]) -> None:
        self.n_features = len(ref_sorted)
        self.offsets = np.arange(self.n_features) * self._BAND
        self.sizes = np.array([r.size for r in ref_sorted], dtype=np.float64)
        self.starts = np.concatenate(([0.0], np.cumsum(self.sizes)))[:-1]
        bands = [np.clip(r, -self._CLIP, self._CLIP) + o for r, o in zip(ref_sorted, self.offsets, strict=True)]
        self.flat = np.concatenate(bands) if bands else np.zeros(0)

    def statistics(self, cur: FloatArray) -> tuple[FloatArray, FloatArray]:
        cur = np.sort(_columns(cur, self.n_features), axis=0)
        valid = ~np.isnan(cur)
        n = valid.sum(axis=0).astype(np.float64)
        banded = np.where(valid, np.clip(cur, -self._CLIP, self._CLIP), 2 * self._CLIP) + self.offsets
        flat = banded.T.ravel()
        rows = cur.shape[0]
        block = np.repeat(np.arange(self.n_features) * rows, rows)
        ref_start = np.repeat(self.starts, rows)
        sizes, counts = np.repeat(np.maximum(self.sizes, 1), rows), np.repeat(np.maximum(n, 1), rows)
        diffs = []
        for side in ("right", "left"):
            f_cur = (np.searchsorted(flat, flat, side=side) - block) / counts
            f_ref = (np.searchsorted(self.flat, flat, side=side) - ref_start) / sizes
            diffs.append(np.abs(f_ref - f_cur))
        both = np.where(valid.T.ravel(), np.maximum(diffs[0], diffs[1]), 0.0).reshape(self.n_features, rows)
        d = np.where((n > 0) & (self.sizes > 0), both.max(axis=1, initial=0.0), 0.0)
        return d, n

    def test(self, cur: FloatArray, inflation: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        d, n = self.statistics(cur)
        return d, ks_pvalues(d, n, self.sizes, inflation)


def wasserstein(ref_sorted: Sequence[FloatArray], cur: FloatArray) -> FloatArray:
    """Wasserstein-1 distance per feature (inputs already standardised: the unit is reference std)."""
    cur = _columns(cur, len(ref_sorted))
    out = np.zeros(len(ref_sorted))
    for j, ref in enumerate(ref_sorted):
        col = cur[:, j]
        col = np.sort(col[~np.isnan(col)])
        if col.size == 0 or ref.size == 0:
            continue
        grid = np.sort(np.concatenate((ref, col)))
        cdf_ref = np.searchsorted(ref, grid[:-1], side="right") / ref.size
        cdf_cur = np.searchsorted(col, grid[:-1], side="right") / col.size
        out[j] = float(np.sum(np.abs(cdf_ref - cdf_cur) * np.diff(grid)))
    return out


def quantile_edges(ref_sorted: Sequence[FloatArray], bins: int) -> list[FloatArray]:
    """Interior bin edges at reference quantiles (duplicates from ties removed)."""
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    return [np.unique(np.quantile(r, qs)) if r.size else np.array([]) for r in ref_sorted]


def _psi(ref_p: FloatArray, cur_p: FloatArray) -> float:
    r = np.maximum(ref_p, _EPS)
    c = np.maximum(cur_p, _EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_numeric(ref_sorted: Sequence[FloatArray], edges: Sequence[FloatArray], cur: FloatArray) -> FloatArray:
    """Population Stability Index per feature on reference-quantile bins."""
    cur = _columns(cur, len(ref_sorted))
    out = np.zeros(len(ref_sorted))
    for j, (ref, e) in enumerate(zip(ref_sorted, edges, strict=True)):
        col = cur[:, j]
        col = col[~np.isnan(col)]
        if col.size == 0 or ref.size == 0:
            continue
        k = e.size + 1
        ref_p = np.bincount(np.searchsorted(e, ref, side="right"), minlength=k) / ref.size
        cur_p = np.bincount(np.searchsorted(e, col, side="right"), minlength=k) / col.size
        out[j] = _psi(ref_p, cur_p)
    return out


def _check_counts(ref_p: FloatArray, counts: NDArray[Any]) -> tuple[FloatArray, FloatArray]:
    ref_p = np.asarray(ref_p, dtype=np.float64)
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    if counts.shape[1] != ref_p.size:
        raise ValueError(f"counts must have {ref_p.size} columns (levels), got {counts.shape[1]}")
    if ref_p.min(initial=0.0) < 0 or abs(ref_p.sum() - 1.0) > 1e-6:
        raise ValueError("reference frequencies must be non-negative and sum to 1")
    return ref_p, counts


def chi_square(ref_p: FloatArray, counts: NDArray[Any]) -> tuple[FloatArray, FloatArray]:
    """Chi-square goodness of fit of level counts (rows = windows) to *known* frequencies ``ref_p``.

    The frequencies are taken as exact. When they are estimated from a reference sample of ``m`` events, use
    ``chi_square_two_sample`` on the reference counts instead: here the statistic of a window of ``n`` events
    would be about ``(1 + n / m)`` times chi-square under no change, and the test anti-conservative.
    """
    ref_p, counts = _check_counts(ref_p, counts)
    n = counts.sum(axis=1, keepdims=True)
    expected = np.maximum(ref_p, _EPS) * n
    terms = np.divide((counts - expected) ** 2, expected, out=np.zeros_like(counts), where=expected > 0)
    stat = terms.sum(axis=1)
    df = max(int(np.count_nonzero(ref_p > 0)) - 1, 1)
    p = np.where(n[:, 0] > 0, special.chdtrc(df, stat), 1.0)
    return np.where(n[:, 0] > 0, stat, 0.0), p


def chi_square_two_sample(ref_counts: NDArray[Any], counts: NDArray[Any]) -> tuple[FloatArray, FloatArray]:
    """Pearson chi-square of homogeneity (a 2 x k table) between reference level counts and window counts.

    Both rows are samples, so the reference's own sampling error is part of the null distribution: under no
    change the statistic is asymptotically chi-square with (levels seen in either - 1) degrees of freedom,
    for any reference size ``m`` and window size ``n``. Per level ``i`` with ``t_i = r_i + c_i > 0`` it adds
    ``(r_i n - c_i m)^2 / (t_i m n)``; levels absent from both are left out, so zero-padded columns are
    allowed. The last axis holds the levels and the others broadcast: ``(C, 1, K)`` references against
    ``(C, W, K)`` windows test W windows of C features at once. Returns ``(statistic, p_value)``; an empty
    side gives ``(0, 1)``.
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(counts, dtype=np.float64)
    if ref.ndim == 0 or cur.ndim == 0 or ref.shape[-1] != cur.shape[-1]:
        raise ValueError(f"counts must have {ref.shape[-1] if ref.ndim else 1} levels (last axis), got {cur.shape}")
    if ref.min(initial=0.0) < 0 or cur.min(initial=0.0) < 0:
        raise ValueError("counts must be non-negative")
    m = ref.sum(axis=-1, keepdims=True)
    n = cur.sum(axis=-1, keepdims=True)
    total = ref + cur
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(total > 0, (ref * n - cur * m) ** 2 / (total * m * n), 0.0)
    ok = (m[..., 0] > 0) & (n[..., 0] > 0)
    stat = np.where(ok, terms.sum(axis=-1), 0.0)
    df = np.count_nonzero(total > 0, axis=-1) - 1
    p = np.where(ok & (df > 0), special.chdtrc(np.maximum(df, 1), stat), 1.0)
    return stat, p


def frequencies(counts: NDArray[Any]) -> FloatArray:
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    n = counts.sum(axis=1, keepdims=True)
    return np.asarray(np.divide(counts, n, out=np.zeros_like(counts), where=n > 0))


def psi_categorical(ref_p: FloatArray, counts: NDArray[Any]) -> FloatArray:
    """PSI between reference level frequencies and each row of counts."""
    ref_p, counts = _check_counts(ref_p, counts)
    return np.array([_psi(ref_p, row) for row in frequencies(counts)])


def jensen_shannon(ref_p: FloatArray, counts: NDArray[Any]) -> FloatArray:
    """Jensen-Shannon distance (base 2, in [0, 1]) between reference frequencies and each row."""
    ref_p, counts = _check_counts(ref_p, counts)
    q = frequencies(counts)
    mid = (ref_p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(ref_p > 0, ref_p * np.log2(ref_p / mid), 0.0).sum(axis=1)
        b = np.where(q > 0, q * np.log2(q / mid), 0.0).sum(axis=1)
    return np.asarray(np.sqrt(np.clip((a + b) / 2, 0.0, 1.0)))


def total_variation(ref_p: FloatArray, counts: NDArray[Any]) -> FloatArray:
    ref_p, counts = _check_counts(ref_p, counts)
    return np.asarray(0.5 * np.abs(frequencies(counts) - ref_p).sum(axis=1))


def variance_inflation(x: FloatArray, max_lag: int) -> FloatArray:
    """Long-run variance / variance per column: ``1 + 2 sum_k w_k rho_k`` (Bartlett weights).

    Serial correlation (AR noise, seasonality) makes a window carry less information than its size;
    tests divide sizes by this factor. Clipped to ``[1, max_lag]``. NaNs count as the column mean.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError(f"x must have shape (m >= 3, F), got {x.shape}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    x = x - np.nanmean(x, axis=0)
    x = np.nan_to_num(x, nan=0.0)
    m = x.shape[0]
    lag = min(max_lag, m - 1)
    spec = np.fft.rfft(x, n=2 * m, axis=0)
    acov = np.fft.irfft(spec * np.conj(spec), axis=0)[: lag + 1] / m
    var = acov[0]
    safe = np.where(var > 0, var, 1.0)
    rho = acov[1:] / safe
    weights = 1 - np.arange(1, lag + 1) / (lag + 1)
    factor = 1 + 2 * (weights[:, None] * rho).sum(axis=0)
    return np.where(var > 0, np.clip(factor, 1.0, float(max_lag)), 1.0)


def clipped_moments(ref_sorted: Sequence[FloatArray], clip: float) -> tuple[FloatArray, FloatArray]:
    """Mean and variance per feature of reference values clipped to ``[-clip, clip]``."""
    means = np.array([np.clip(r, -clip, clip).mean() if r.size else 0.0 for r in ref_sorted])
    variances = np.array([np.clip(r, -clip, clip).var() if r.size else 1.0 for r in ref_sorted])
    return means, np.maximum(variances, 1e-12)


def mean_shift_test(
    ref_mean: FloatArray,
    ref_var: FloatArray,
    m: FloatArray,
    cur: FloatArray,
    clip: float = 3.0,
    inflation: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Two-sided z-test of the winsorised mean (values clipped to ``±clip``) against the reference.

    More powerful than KS for location shifts; clipping keeps outliers from dominating. Returns
    ``(z, p_value)`` per feature; sizes are divided by ``inflation`` (serial correlation).
    """
    cur = _columns(cur, ref_mean.size)
    infl = _inflation(inflation, ref_mean.size)
    valid = ~np.isnan(cur)
    n = valid.sum(axis=0).astype(np.float64)
    sums = np.where(valid, np.clip(cur, -clip, clip), 0.0).sum(axis=0)
    mean = sums / np.maximum(n, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(ref_var * infl * (1 / n + 1 / m))
        z = np.where((n > 0) & (m > 0), (mean - ref_mean) / se, 0.0)
    return z, 2 * special.ndtr(-np.abs(z))
