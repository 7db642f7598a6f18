"""The measurement protocol: load, first inference, warm-up, then timed runs until both a minimum
count and a minimum duration are reached. Runs inside the worker process (see worker.py)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.bench.stats import LatencyStats, summarize, validity
from edgekit.errors import UsageError


@dataclass
class Protocol:
    threads: int = 1
    warmup_runs: int = 3
    min_runs: int = 20
    min_time_s: float = 0.5
    max_runs: int = 100_000  # a bound, so a sub-microsecond model cannot loop forever

    def __post_init__(self) -> None:
        if (
            self.threads < 1
            or self.warmup_runs < 0
            or self.min_runs < 1
            or self.min_time_s < 0
            or self.max_runs < self.min_runs
        ):
            raise UsageError(
                f"bench protocol needs threads >= 1, warmup >= 0, 1 <= min_runs <= max_runs, min_time >= 0; got {self}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Measurement:
    load_ms: float
    first_ms: float
    samples_ms: list[float]
    stats: LatencyStats
    validity: str
    validity_reasons: list[str]
    runtime: dict[str, Any] = field(default_factory=dict)
    timer: str = "time.perf_counter around Session.invoke, gc disabled"

    def to_dict(self) -> dict:
        return {
            "load_ms": self.load_ms,
            "first_inference_ms": self.first_ms,
            **self.stats.to_dict(),
            "validity": self.validity,
            "validity_reasons": self.validity_reasons,
            "runtime": self.runtime,
            "timer": self.timer,
        }


def timed_loop(session, prepared, protocol: Protocol) -> list[float]:
    # The loop body is the bare invoke plus two clock reads: tests/perf checks that this costs < 3%.
    samples: list[float] = []
    append, invoke, clock = samples.append, session.invoke, time.perf_counter
    min_runs, max_runs, min_time = protocol.min_runs, protocol.max_runs, protocol.min_time_s
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside a timed run is harness noise, not model latency
    try:
        start = clock()
        while len(samples) < max_runs and (len(samples) < min_runs or clock() - start < min_time):
            t0 = clock()
            invoke(prepared)
            append((clock() - t0) * 1000.0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def measure(load: Callable[[], Any], x: np.ndarray, protocol: Protocol) -> Measurement:
    """load: () -> Session. x: one preprocessed input [1, ...] (real data, not zeros)."""
    t0 = time.perf_counter()
    session = load()
    load_ms = (time.perf_counter() - t0) * 1000.0
    try:
        prepared = session.prepare(x)
        t0 = time.perf_counter()
        session.invoke(prepared)
        first_ms = (time.perf_counter() - t0) * 1000.0
        timer, wall_s = Measurement.timer, None
        if hasattr(session, "time_runs"):  # runtimes in another process time inside themselves (TF.js)
            loop_start = time.perf_counter()
            samples = session.time_runs(
                prepared, protocol.warmup_runs, protocol.min_runs, protocol.min_time_s, protocol.max_runs
            )
            # The runtime's loop ran until min_time by its own clock, but the samples alone sum to
            # less (loop overhead between runs); the duration check uses this call's wall time,
            # which also holds the warm-up and one IPC round trip.
            wall_s = time.perf_counter() - loop_start
            timer = "inside the runtime (performance.now around each execute)"
        else:
            for _ in range(protocol.warmup_runs):
                session.invoke(prepared)
            loop_start = time.perf_counter()
            samples = timed_loop(session, prepared, protocol)
            wall_s = time.perf_counter() - loop_start
        info = session.info()
    finally:
        session.close()
    stats = summarize(samples, wall_s)
    verdict, reasons = validity(stats, protocol.min_runs, protocol.min_time_s)
    return Measurement(load_ms, first_ms, samples, stats, verdict, reasons, info, timer)
