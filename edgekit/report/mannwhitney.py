"""Mann-Whitney U test with numpy only (no scipy).

Used by `edgekit check` to decide whether a latency difference is real or noise. The test is
ONE-SIDED, alternative "the new samples tend to be larger (slower) than the baseline's": a faster
build must never count as a regression, and a one-sided test spends all of alpha on the direction
we gate on.

Method: pool both samples, rank with ties averaged, U_new = R_new - n_new(n_new+1)/2. Under H0
U has mean n1*n2/2 and variance n1*n2/12 * ((N+1) - sum(t^3 - t)/(N(N-1))) (tie correction).
z = (U - mean - 0.5) / sd (continuity correction toward H0), p = P(Z >= z). The normal
approximation is accurate for the sample sizes benchmarks produce (tens to thousands per side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U statistic of the NEW sample (count of pairs where new > baseline, ties 1/2)
    z: float
    p_value: float  # one-sided: P(new stochastically larger than baseline) under H0
    n_baseline: int
    n_new: int


def average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks with ties given their average rank, and the sizes of the tie groups."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    # group boundaries: where the sorted value changes
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    counts = np.diff(np.r_[starts, sorted_vals.size])
    avg = starts + (counts + 1) / 2.0  # average of ranks starts+1 .. starts+counts
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, counts)
    return ranks, counts


def mann_whitney_greater(baseline, new) -> MannWhitney:
    """One-sided test that NEW is slower (stochastically larger) than BASELINE."""
    a, b = np.asarray(baseline, dtype=np.float64).ravel(), np.asarray(new, dtype=np.float64).ravel()
    n1, n2 = a.size, b.size
    if n1 == 0 or n2 == 0:
        raise ValueError(f"Mann-Whitney U needs samples on both sides, got {n1} baseline and {n2} new")
    ranks, ties = average_ranks(np.concatenate([a, b]))
    u_new = float(ranks[n1:].sum() - n2 * (n2 + 1) / 2.0)
    n = n1 + n2
    mean = n1 * n2 / 2.0
    tie_term = float(np.sum(ties.astype(np.float64) ** 3 - ties)) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if var <= 0:  # every value identical: no evidence either way
        return MannWhitney(u_new, 0.0, 1.0, n1, n2)
    z = (u_new - mean - 0.5) / math.sqrt(var)
    p = 0.5 * math.erfc(z / math.sqrt(2.0))  # upper tail of the standard normal
    return MannWhitney(u_new, z, min(1.0, p), n1, n2)
