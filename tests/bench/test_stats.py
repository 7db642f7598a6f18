"""Statistics against values computed by hand, and verdicts on synthetic timing series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.bench.stats import LatencyStats, percentile, summarize, validity


def test_summary_of_five_samples_matches_hand_computation():
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0], wall_s=0.025)
    # mean 20/5 = 4; squared deviations 9+4+1+0+36 = 50; sample variance 50/4 = 12.5
    assert s.runs == 5 and s.mean_ms == 4.0
    assert s.std_ms == pytest.approx(math.sqrt(12.5))
    assert s.cv == pytest.approx(math.sqrt(12.5) / 4.0)
    assert (s.min_ms, s.max_ms, s.p50_ms) == (1.0, 10.0, 3.0)
    # linear interpolation: p90 at rank 0.9*4 = 3.6 → 4 + 0.6*(10-4) = 7.6; p99 at 3.96 → 4 + 0.96*6 = 9.76
    assert s.p90_ms == pytest.approx(7.6) and s.p99_ms == pytest.approx(9.76)
    assert s.throughput_per_s == pytest.approx(5 / 0.025) and s.total_s == 0.025


def test_percentile_interpolates_between_ranks():
    assert percentile(np.array([10.0, 20.0]), 50) == 15.0
    assert percentile(np.array([10.0, 20.0, 30.0, 40.0]), 25) == pytest.approx(17.5)  # rank 0.75


def test_without_wall_time_the_total_is_the_sum_of_samples():
    s = summarize([2.0, 2.0, 2.0, 2.0])
    assert (
        s.total_s == pytest.approx(0.008)
        and s.std_ms == 0.0
        and s.cv == 0.0
        and s.throughput_per_s == pytest.approx(500)
    )


def test_one_sample_has_zero_spread_and_none_is_an_error():
    assert summarize([3.0]).std_ms == 0.0
    with pytest.raises(ValueError, match="no latency samples"):
        summarize([])


def _series(values, wall_s=None) -> LatencyStats:
    return summarize(np.asarray(values, dtype=float), wall_s)


def test_steady_series_is_valid():
    rng = np.random.default_rng(0)
    verdict, reasons = validity(
        _series(10 + rng.normal(0, 0.2, 200), wall_s=2.0), min_runs=20, min_time_s=0.5
    )
    assert (verdict, reasons) == ("VALID", [])


def test_too_few_runs_is_invalid_with_the_reason():
    verdict, reasons = validity(_series([5.0] * 10, wall_s=1.0), min_runs=20, min_time_s=0.5)
    assert verdict == "INVALID" and reasons == ["10 runs < the minimum 20"]


def test_too_short_is_invalid_even_when_steady():
    verdict, reasons = validity(_series([1.0] * 50, wall_s=0.05), min_runs=20, min_time_s=0.5)
    assert verdict == "INVALID" and "0.050 s measured < the minimum 0.5 s" in reasons[0]


def test_noisy_series_is_unstable_because_of_cv():
    rng = np.random.default_rng(1)
    stats = _series(10 + rng.normal(0, 2.0, 300).clip(-5, 5), wall_s=3.0)  # CV about 20%, no extreme tail
    verdict, reasons = validity(stats, 20, 0.5)
    assert verdict == "UNSTABLE" and reasons[0].startswith("coefficient of variation") and len(reasons) == 1


def test_rare_stalls_are_unstable_because_of_the_tail():
    # 2% of runs stall at 50 ms: CV stays high too, but the tail reason must be named
    stats = _series([10.0] * 196 + [50.0] * 4, wall_s=2.5)
    verdict, reasons = validity(stats, 20, 0.5)
    assert verdict == "UNSTABLE" and any(r.startswith("p99/p50 = 5.0 > 3") for r in reasons)


def test_tail_reason_stands_on_its_own():
    # With a generous CV limit, only the p99/p50 spread is left to flag the stalls.
    stats = _series([10.0] * 985 + [40.0] * 15, wall_s=10.0)
    verdict, reasons = validity(stats, 20, 0.5, max_cv=1.0)
    assert verdict == "UNSTABLE" and reasons == ["p99/p50 = 4.0 > 3.0"]
