"""A seeded bootstrap confidence interval of the median latency ratio new/baseline.

`edgekit check` decides latency regressions on effect size: a row regresses only when the whole
interval lies above 1 + threshold. A significance test cannot do that job: with thousands of
samples a +0.3 % drift between two runs of the same artifact is "significant" (p ≈ 1e-184), while
an interval says how large the change is and how sure the measurement is of it.

Percentile bootstrap: resample each side with replacement, take the ratio of the two resampled
medians, repeat, and take the central CONFIDENCE part of those ratios. Resampling n values and
sorting them for every replicate would cost O(n log n) each; instead the median of a resample is
drawn directly, which is exact and O(1) per replicate whatever the sample size:
a bootstrap draw is x_(ceil(n·U)) for U uniform on (0, 1], a monotone map of U, so the k-th
smallest of n draws is x_(ceil(n·U_(k))), where U_(k), the k-th order statistic of n uniforms, is
Beta(k, n + 1 - k). For even n, np.median averages the two middle values; given U_(m), the next
order statistic is U_(m) + (1 - U_(m))·Beta(1, n - m) (the smallest of the n - m uniforms above it).

The interval covers the sampling noise of the two runs, not a host that changed speed between
them: that is what the threshold is for, and why baseline and head should be measured on the same
quiet runner (docs/reports.md, CI gate, has the measured rates). Bootstrapping medians of
consecutive slices of each run instead of single samples widened the interval for within-run
drift, but on the loaded development machine (2 cores, load average 10) it missed 3 to 5 of 20
real 30 % slowdowns to avoid one false alarm in 20.

The generator is seeded, so the same two reports always give the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 4000
SEED = 20240917  # any fixed value: the point is that a rerun of check gives the same interval


@dataclass(frozen=True)
class RatioInterval:
    ratio: float  # median(new) / median(baseline) of the measured samples
    low: float
    high: float
    confidence: float
    resamples: int


def _order_statistic(sorted_x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """x_(ceil(n·u)) for each u in (0, 1]: the value a bootstrap draw with uniform u picks."""
    n = sorted_x.size
    index = np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)
    return sorted_x[index]


def bootstrap_medians(samples: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """RESAMPLES medians of bootstrap resamples of SAMPLES (each resample as large as SAMPLES)."""
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        raise ValueError("a bootstrap needs at least one sample")
    m = (n + 1) // 2  # 1-based rank of the (lower) middle value
    u_m = rng.beta(m, n + 1 - m, resamples)
    lower = _order_statistic(x, u_m)
    if n % 2:
        return lower
    u_next = u_m + (1.0 - u_m) * rng.beta(1, n - m, resamples)
    return (lower + _order_statistic(x, u_next)) / 2.0


def median_ratio_interval(
    baseline,
    new,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> RatioInterval:
    """The ratio median(NEW)/median(BASELINE) and its percentile-bootstrap CONFIDENCE interval."""
    a = np.asarray(baseline, dtype=np.float64).ravel()
    b = np.asarray(new, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(
            f"a median ratio needs samples on both sides, got {a.size} baseline and {b.size} new"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if float(np.median(a)) <= 0 or float(np.min(a)) < 0 or float(np.min(b)) < 0:
        raise ValueError("latency samples must be non-negative with a positive baseline median")
    rng = np.random.default_rng(seed)
    base_medians = bootstrap_medians(a, resamples, rng)
    new_medians = bootstrap_medians(b, resamples, rng)
    # A resampled baseline median of 0 is possible only when most samples are 0; such a ratio is
    # unbounded, and np.inf sorts to the top, which widens the interval as it should.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(base_medians > 0, new_medians / np.where(base_medians > 0, base_medians, 1), np.inf)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return RatioInterval(float(np.median(b) / np.median(a)), float(low), float(high), confidence, resamples)
