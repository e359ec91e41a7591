from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats as sps

from mlmon_drift import stats


def test_ks_statistic_hand_computed() -> None:
    d, p = stats.ks_test([np.array([0.0, 1.0, 2.0, 3.0])], np.array([[1.5], [2.5]]))
    assert d.tolist() == [0.5]
    en = math.sqrt(2 * 4 / 6)
    assert p[0] == pytest.approx(special.kolmogorov((en + 0.12 + 0.11 / en) * 0.5))


def test_ks_matches_scipy_on_large_samples() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=1000), rng.normal(0.3, 1, size=(200, 1))
    d, p = stats.ks_test([np.sort(ref)], cur)
    expected = sps.ks_2samp(ref, cur[:, 0], method="asymp")
    assert d[0] == pytest.approx(expected.statistic)
    assert p[0] == pytest.approx(expected.pvalue, rel=0.05)


def test_ks_drops_nans_and_handles_empty_columns() -> None:
    ref = [np.array([0.0, 1.0]), np.array([0.0, 1.0])]
    cur = np.array([[0.0, np.nan], [1.0, np.nan], [np.nan, np.nan]])
    d, n = stats.ks_statistics(ref, cur)
    assert d.tolist() == [0.0, 0.0]
    assert n.tolist() == [2.0, 0.0]
    _, p = stats.ks_test(ref, cur)
    assert p[1] == 1.0


def test_ks_inflation_equals_smaller_samples() -> None:
    d, n, m = np.array([0.2]), np.array([400.0]), np.array([1000.0])
    assert stats.ks_pvalues(d, n, m, np.array([4.0]))[0] == pytest.approx(stats.ks_pvalues(d, n / 4, m / 4)[0])


def test_bad_shapes_and_inflation_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"cur must have shape \(n, 2\)"):
        stats.ks_test([np.zeros(3), np.zeros(3)], np.zeros((4, 3)))
    with pytest.raises(ValueError, match="inflation must be 1 values >= 1"):
        stats.ks_test([np.zeros(3)], np.zeros((4, 1)), np.array([0.5]))


def test_wasserstein_of_a_shift_is_the_shift() -> None:
    w = stats.wasserstein([np.array([0.0, 1.0])], np.array([[2.0], [3.0]]))
    assert w[0] == pytest.approx(2.0)
    assert w[0] == pytest.approx(sps.wasserstein_distance([0, 1], [2, 3]))


def test_psi_numeric_with_reference_quantile_bins() -> None:
    ref = [np.arange(100, dtype=float)]
    edges = stats.quantile_edges(ref, 4)
    assert edges[0].tolist() == [24.75, 49.5, 74.25]
    psi = stats.psi_numeric(ref, edges, np.array([[0.0], [1.0]]))
    expected = (1 - 0.25) * math.log(1 / 0.25) + 3 * (1e-4 - 0.25) * math.log(1e-4 / 0.25)
    assert psi[0] == pytest.approx(expected)
    assert stats.psi_numeric(ref, edges, np.arange(100.0)[:, None])[0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="bins must be >= 2"):
        stats.quantile_edges(ref, 1)


def test_chi_square_hand_computed() -> None:
    stat, p = stats.chi_square(np.array([0.5, 0.5]), np.array([[60, 40], [0, 0]]))
    assert stat.tolist() == [4.0, 0.0]
    assert p[0] == pytest.approx(0.0455002638963584)
    assert p[1] == 1.0


def test_categorical_distances() -> None:
    ref = np.array([0.5, 0.5])
    assert stats.total_variation(ref, np.array([75, 25]))[0] == pytest.approx(0.25)
    assert stats.jensen_shannon(np.array([1.0, 0.0]), np.array([0, 10]))[0] == pytest.approx(1.0)
    assert stats.jensen_shannon(ref, np.array([5, 5]))[0] == pytest.approx(0.0)
    psi = stats.psi_categorical(ref, np.array([75, 25]))[0]
    assert psi == pytest.approx(0.25 * math.log(1.5) - 0.25 * math.log(0.5))


def test_categorical_input_errors() -> None:
    with pytest.raises(ValueError, match="counts must have 2 columns"):
        stats.chi_square(np.array([0.5, 0.5]), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="reference frequencies must be non-negative and sum to 1"):
        stats.chi_square(np.array([0.5, 0.6]), np.array([1, 2]))


def test_variance_inflation() -> None:
    rng = np.random.default_rng(1)
    alternating = np.tile([1.0, -1.0], 200)[:, None]
    walk = np.cumsum(rng.normal(size=400))[:, None]
    infl = stats.variance_inflation(np.hstack([alternating, walk, np.ones((400, 1))]), 20)
    assert infl[0] == 1.0  # negative correlation never shrinks below 1
    assert infl[1] > 10
    assert infl[2] == 1.0  # constant column
    with pytest.raises(ValueError, match="x must have shape"):
        stats.variance_inflation(np.zeros(5), 2)
    with pytest.raises(ValueError, match="max_lag must be >= 1"):
        stats.variance_inflation(np.zeros((5, 1)), 0)


def test_mean_shift_test_hand_computed_and_clipped() -> None:
    z, p = stats.mean_shift_test(np.array([0.0]), np.array([1.0]), np.array([100.0]), np.ones((4, 1)))
    assert z[0] == pytest.approx(1 / math.sqrt(0.26))
    assert p[0] == pytest.approx(2 * sps.norm.sf(1 / math.sqrt(0.26)))
    z_clip, _ = stats.mean_shift_test(np.array([0.0]), np.array([1.0]), np.array([100.0]), np.full((4, 1), 50.0))
    assert z_clip[0] == pytest.approx(3 / math.sqrt(0.26))
    means, variances = stats.clipped_moments([np.array([-10.0, 0.0, 10.0])], 3.0)
    assert means.tolist() == [0.0]
    assert variances[0] == pytest.approx(6.0)


@pytest.mark.parametrize("seed", range(5))
def test_ks_statistic_equals_scipy_with_ties_and_nans(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.sort(rng.integers(0, 6, size=300).astype(float))
    cur = rng.integers(1, 8, size=(80, 1)).astype(float)
    cur[::7] = np.nan
    d, n = stats.ks_statistics([ref], cur)
    valid = cur[~np.isnan(cur)]
    assert n[0] == valid.size
    assert d[0] == pytest.approx(sps.ks_2samp(ref, valid).statistic)


@pytest.mark.parametrize("seed", range(5))
def test_ks_reference_equals_per_feature_ks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    refs = [np.sort(rng.normal(size=500)), np.sort(rng.integers(0, 4, 300).astype(float)), np.sort(rng.normal(size=50))]
    cur = np.column_stack([rng.normal(0.3, 1, 120), rng.integers(0, 5, 120).astype(float), rng.normal(size=120)])
    cur[::5, 0] = np.nan
    cur[:, 2] = np.nan
    ks = stats.KsReference(refs)
    d, n = ks.statistics(cur)
    d_ref, n_ref = stats.ks_statistics(refs, cur)
    assert d.tolist() == pytest.approx(d_ref.tolist())
    assert n.tolist() == n_ref.tolist() == [96.0, 120.0, 0.0]
    assert ks.test(cur)[1].tolist() == pytest.approx(stats.ks_test(refs, cur)[1].tolist())
