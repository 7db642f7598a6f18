"""The measurement protocol: load, first inference, warm-up, then timed runs until both a minimum
count and a minimum duration are reached."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.bench.stats import LatencyStats, summarize, validity


@dataclass
class Protocol:
    threads: int = 1
    warmup_runs: int = 3
    min_runs: int = 20
    min_time_s: float = 0.5
    max_runs: int = 100_000  # a bound, so a sub-microsecond model cannot loop forever


@dataclass
class Measurement:
    load_ms: float
    first_ms: float
    samples_ms: list[float]
    stats: LatencyStats
    validity: str
    validity_reasons: list[str]
    runtime: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "load_ms": self.load_ms, "first_inference_ms": self.first_ms, **self.stats.to_dict(),
            "validity": self.validity, "validity_reasons": self.validity_reasons, "runtime": self.runtime,
        }


def timed_loop(session, prepared, protocol: Protocol) -> list[float]:
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    while len(samples) < protocol.max_runs and (len(samples) < protocol.min_runs or clock() - start < protocol.min_time_s):
        t0 = clock()
        session.invoke(prepared)
        samples.append((clock() - t0) * 1000.0)
    return samples


def measure(load, x: np.ndarray, protocol: Protocol) -> Measurement:
    """load: () -> Session. x: one preprocessed input [1, ...] (real data, not zeros)."""
    t0 = time.perf_counter()
    session = load()
    load_ms = (time.perf_counter() - t0) * 1000.0
    try:
        prepared = session.prepare(x)
        t0 = time.perf_counter()
        session.invoke(prepared)
        first_ms = (time.perf_counter() - t0) * 1000.0
        for _ in range(protocol.warmup_runs):
            session.invoke(prepared)
        loop_start = time.perf_counter()
        if hasattr(session, "time_runs"):  # runtimes in another process time inside themselves (TF.js)
            samples = session.time_runs(prepared, 0, protocol.min_runs, protocol.min_time_s)
        else:
            samples = timed_loop(session, prepared, protocol)
        wall_s = time.perf_counter() - loop_start
        info = session.info()
    finally:
        session.close()
    stats = summarize(samples, wall_s)
    verdict, reasons = validity(stats, protocol.min_runs, protocol.min_time_s)
    return Measurement(load_ms, first_ms, samples, stats, verdict, reasons, info)
