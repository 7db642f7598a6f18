"""Raw latency samples in a result: compressed, so a result file stays small but a later
regression check can still run real statistics on every timed run."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import numpy as np

from edgekit.errors import BenchError

SAMPLES_FIELD = "samples_ms_b64z"  # base64 of zlib-compressed little-endian float64
PLAIN_FIELD = "samples_ms"  # older results and hand-written fixtures keep a plain list


def encode_samples(samples_ms: Any) -> str:
    raw = np.asarray(samples_ms, dtype="<f8").tobytes()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_samples(result: dict[str, Any]) -> np.ndarray:
    """The timed-run latencies (ms, float64) of one result dict, from either field."""
    if result.get(SAMPLES_FIELD) is not None:
        try:
            raw = zlib.decompress(base64.b64decode(result[SAMPLES_FIELD], validate=True))
        except (ValueError, zlib.error) as exc:
            raise BenchError(f"{SAMPLES_FIELD} is not base64 zlib data: {exc}") from None
        if len(raw) % 8:
            raise BenchError(f"{SAMPLES_FIELD} holds {len(raw)} bytes, not a whole number of float64 values")
        return np.frombuffer(raw, dtype="<f8").astype(np.float64)
    if result.get(PLAIN_FIELD) is not None:
        return np.asarray(result[PLAIN_FIELD], dtype=np.float64)
    raise BenchError(
        f"the result has neither {SAMPLES_FIELD} nor {PLAIN_FIELD}",
        hint="failed results carry no samples; check result['status'] first",
    )
