"""The bootstrap interval of the median ratio: exact fast resampling, seeded, sane coverage."""

import numpy as np
import pytest

from edgekit.report.interval import bootstrap_medians, median_ratio_interval


@pytest.mark.parametrize("n", [1, 2, 5, 6, 51, 300])
def test_direct_median_draws_match_a_naive_bootstrap(n):
    """Drawing the resample median from Beta order statistics gives the same distribution as
    resampling n values and taking np.median (the naive bootstrap), odd and even n alike."""
    x = np.random.default_rng(n).lognormal(0.0, 0.3, n)
    fast = bootstrap_medians(x, 20000, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    naive = np.median(x[rng.integers(0, n, (20000, n))], axis=1)
    qs = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]
    spread = x.max() - x.min() or 1.0
    assert np.abs(np.quantile(fast, qs) - np.quantile(naive, qs)).max() < 0.03 * spread
    assert set(np.unique(fast)) <= set(np.unique(np.r_[x, (x[:, None] + x[None, :]).ravel() / 2]))


def test_interval_is_seeded_and_contains_the_ratio():
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(0, 0.1, 400), rng.lognormal(0.2, 0.1, 400)
    first, second = median_ratio_interval(a, b), median_ratio_interval(a, b)
    assert first == second
    assert first.low < first.ratio < first.high and first.ratio == pytest.approx(np.median(b) / np.median(a))
    assert median_ratio_interval(a, b, seed=1) != first  # the seed is what makes it repeatable


def test_coverage_of_the_true_ratio_is_near_the_confidence():
    """Over many independent pairs of samples with a known true median ratio of 1.2, the 95 %
    interval holds it in roughly 95 % of the pairs (percentile bootstrap of a median: approximate)."""
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(200):
        a, b = rng.lognormal(0, 0.2, 200), 1.2 * rng.lognormal(0, 0.2, 200)
        ci = median_ratio_interval(a, b, resamples=1000)
        hits += ci.low <= 1.2 <= ci.high
    assert 0.88 <= hits / 200 <= 0.99


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="both sides"):
        median_ratio_interval([], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        median_ratio_interval([1.0], [1.0], confidence=1.0)
    with pytest.raises(ValueError, match="non-negative"):
        median_ratio_interval([1.0, -1.0], [1.0])
