"""Summary statistics of latency samples, and the validity verdict that says whether to trust them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MAX_CV = 0.10  # coefficient of variation at or above this: the machine was not quiet
MAX_TAIL = 3.0  # p99/p50 above this: stalls (preemption, frequency changes) dominate the tail


@dataclass
class LatencyStats:
    runs: int
    total_s: float  # wall time of the timed loop (≥ the sum of samples: it includes the loop itself)
    mean_ms: float
    std_ms: float  # sample standard deviation (ddof=1)
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cv: float  # coefficient of variation: std / mean
    throughput_per_s: float  # runs / total_s: what one thread of this process sustained

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(samples_ms: np.ndarray, q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]."""
    return float(np.percentile(np.asarray(samples_ms, dtype=np.float64), q))


def summarize(samples_ms: list[float] | np.ndarray, wall_s: float | None = None) -> LatencyStats:
    s = np.asarray(samples_ms, dtype=np.float64)
    if s.size == 0:
        raise ValueError("no latency samples to summarize")
    mean = float(s.mean())
    std = float(s.std(ddof=1)) if s.size > 1 else 0.0
    total = wall_s if wall_s is not None else float(s.sum()) / 1000.0
    return LatencyStats(
        runs=int(s.size),
        total_s=total,
        mean_ms=mean,
        std_ms=std,
        min_ms=float(s.min()),
        max_ms=float(s.max()),
        p50_ms=percentile(s, 50),
        p90_ms=percentile(s, 90),
        p99_ms=percentile(s, 99),
        cv=std / mean if mean > 0 else 0.0,
        throughput_per_s=s.size / total if total > 0 else 0.0,
    )


def validity(
    stats: LatencyStats, min_runs: int, min_time_s: float, max_cv: float = MAX_CV, max_tail: float = MAX_TAIL
) -> tuple[str, list[str]]:
    """VALID, UNSTABLE (noisy) or INVALID (too little data), with the reasons."""
    reasons = []
    if stats.runs < min_runs:
        reasons.append(f"{stats.runs} runs < the minimum {min_runs}")
    if stats.total_s < min_time_s:
        reasons.append(f"{stats.total_s:.3f} s measured < the minimum {min_time_s} s")
    if reasons:
        return "INVALID", reasons
    if stats.cv >= max_cv:
        reasons.append(f"coefficient of variation {stats.cv:.1%} ≥ {max_cv:.0%}")
    if stats.p50_ms > 0 and stats.p99_ms / stats.p50_ms > max_tail:
        reasons.append(f"p99/p50 = {stats.p99_ms / stats.p50_ms:.1f} > {max_tail}")
    return ("UNSTABLE", reasons) if reasons else ("VALID", [])
