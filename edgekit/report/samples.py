"""Raw latency samples out of a report's `bench` entry, in whichever form the bench step stored them.

Two encodings exist: a plain JSON list `samples_ms`, and the compact `samples_ms_b64z` (a
little-endian float64 array, zlib-compressed, then base64) that keeps reports of long runs small.
Everything in edgekit/report reads samples through `bench_samples` so both keep working.
"""

from __future__ import annotations

import base64
import binascii
import zlib

import numpy as np

from edgekit.errors import UsageError


def encode_samples(samples_ms) -> str:
    """The `samples_ms_b64z` form of SAMPLES_MS (used by tests and by anyone writing reports)."""
    raw = np.asarray(samples_ms, dtype="<f8").tobytes()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def bench_samples(bench: dict | None) -> np.ndarray | None:
    """float64 samples in ms, or None when the entry holds no raw samples (only summary statistics)."""
    if not bench:
        return None
    if bench.get("samples_ms_b64z"):
        try:
            raw = zlib.decompress(base64.b64decode(bench["samples_ms_b64z"], validate=True))
        except (binascii.Error, zlib.error, ValueError) as exc:
            raise UsageError(
                f"bench.samples_ms_b64z is not base64 of zlib-compressed float64 data: {exc}",
                hint="regenerate the report with `edgekit bench RUN_DIR`",
            ) from exc
        if len(raw) % 8:
            raise UsageError(
                f"bench.samples_ms_b64z decodes to {len(raw)} bytes, not a whole number of float64 values"
            )
        return np.frombuffer(raw, dtype="<f8").astype(np.float64)
    if bench.get("samples_ms"):
        return np.asarray(bench["samples_ms"], dtype=np.float64)
    return None


def median_ms(bench: dict | None) -> float | None:
    """The median latency: from the raw samples when present, else the recorded p50."""
    s = bench_samples(bench)
    if s is not None and s.size:
        return float(np.median(s))
    return None if not bench else bench.get("p50_ms")
