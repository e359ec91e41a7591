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


C0_P = np.array([0.4, 0.3, 0.2, 0.1])  # the harness's c0
C0_SHIFTED = np.array([0.3, 0.3, 0.2, 0.2])  # total variation distance 0.1


def test_two_sample_chi_square_equals_the_contingency_table_test() -> None:
    ref, cur = np.array([480, 310, 160, 50]), np.array([[38, 30, 22, 10], [200, 150, 100, 50]])
    stat, p = stats.chi_square_two_sample(ref, cur)
    for row, s, pv in zip(cur, stat, p, strict=True):
        expected = sps.chi2_contingency(np.vstack([ref, row]), correction=False)
        assert s == pytest.approx(expected.statistic)
        assert pv == pytest.approx(expected.pvalue)
    # a level absent from both is left out (zero padding), an empty side gives (0, 1)
    padded, p_padded = stats.chi_square_two_sample(np.append(ref, [0, 0]), np.column_stack([cur, np.zeros((2, 2))]))
    assert padded.tolist() == pytest.approx(stat.tolist())
    assert p_padded.tolist() == pytest.approx(p.tolist())
    empty = stats.chi_square_two_sample(ref, np.zeros((1, 4)))
    assert (empty[0].tolist(), empty[1].tolist()) == ([0.0], [1.0])


def test_two_sample_chi_square_broadcasts_features_and_windows() -> None:
    refs = np.array([[[500, 300, 200]], [[700, 300, 0]]])  # (features, 1, levels)
    windows = np.array([[[50, 30, 20], [40, 40, 20]], [[60, 40, 0], [70, 25, 5]]])  # (features, windows, levels)
    stat, p = stats.chi_square_two_sample(refs, windows)
    assert stat.shape == p.shape == (2, 2)
    for f in range(2):
        for w in range(2):
            one_s, one_p = stats.chi_square_two_sample(refs[f, 0], windows[f, w])
            assert (stat[f, w], p[f, w]) == pytest.approx((float(one_s), float(one_p)))
    # feature 1's third level: absent from the reference, 5 times in window 2 -> 2 degrees of freedom there
    assert p[1, 1] == pytest.approx(special.chdtrc(2, stat[1, 1]))
    assert p[1, 0] == pytest.approx(special.chdtrc(1, stat[1, 0]))


def test_two_sample_chi_square_input_errors() -> None:
    with pytest.raises(ValueError, match=r"counts must have 2 levels \(last axis\), got \(1, 3\)"):
        stats.chi_square_two_sample(np.array([1, 2]), np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match="counts must be non-negative"):
        stats.chi_square_two_sample(np.array([1, 2]), np.array([[1, -2]]))


def _null_pvalues(rng: np.random.Generator, sims: int, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """p-values of the goodness-of-fit test against the reference frequencies and of the two-sample test,
    for windows of ``n`` drawn from the same law as a reference of ``m`` (c0's law)."""
    ref = rng.multinomial(m, C0_P, size=sims)
    cur = rng.multinomial(n, C0_P, size=sims)
    gof = np.array([stats.chi_square((r + 0.5) / (m + 2.0), c)[1][0] for r, c in zip(ref, cur, strict=True)])
    return gof, stats.chi_square_two_sample(ref, cur)[1]


@pytest.mark.parametrize(("n", "alpha"), [(100, 0.01), (500, 0.01), (500, 0.001)])
def test_two_sample_chi_square_is_calibrated_under_no_change(n: int, alpha: float) -> None:
    """Reference of 1,000 events as in the live config; 20,000 seeded null windows."""
    sims = 20_000
    gof, two_sample = _null_pvalues(np.random.default_rng(n), sims, 1000, n)
    rate = float(np.mean(two_sample < alpha))
    sd = math.sqrt(alpha * (1 - alpha) / sims)
    assert abs(rate - alpha) < 4 * sd + 0.15 * alpha  # binomial noise plus the asymptotics' slack
    assert float(np.mean(gof < alpha)) > 1.5 * alpha  # taking the reference as exact: anti-conservative
    # the two-sample p-values are uniform in the bulk too
    assert sps.kstest(two_sample[two_sample < 0.999], "uniform", args=(0, 0.999)).pvalue > 1e-3


def test_goodness_of_fit_statistic_is_inflated_by_one_plus_n_over_m() -> None:
    """The bug the two-sample test fixes: with a 1,000-event reference the mean of the old statistic on a
    500-event window is (1 + 500/1000) x its degrees of freedom; the two-sample statistic's is the df."""
    rng = np.random.default_rng(11)
    ref, cur = rng.multinomial(1000, C0_P, size=20_000), rng.multinomial(500, C0_P, size=20_000)
    old = np.array([stats.chi_square(r / 1000, c)[0][0] for r, c in zip(ref[:4000], cur[:4000], strict=True)])
    new = stats.chi_square_two_sample(ref, cur)[0]
    assert old.mean() / 3 == pytest.approx(1.5, rel=0.06)
    assert new.mean() / 3 == pytest.approx(1.0, rel=0.03)


def test_two_sample_chi_square_detects_a_tv_shift_of_0_1() -> None:
    """c0 shifted by total variation 0.1 (the harness's categorical scenario), a 500-event long window
    against a 1,000-event reference, at a per-window level like the live one (1e-4): power about 0.91 (seeded)."""
    rng = np.random.default_rng(12)
    ref = rng.multinomial(1000, C0_P, size=2000)
    shifted = rng.multinomial(500, C0_SHIFTED, size=2000)
    assert float(np.mean(stats.chi_square_two_sample(ref, shifted)[1] < 1e-4)) > 0.85
