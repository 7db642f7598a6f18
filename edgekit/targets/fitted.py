"""fitted.json: the latency-model factors the estimator uses, read without the fitting code.

`edgekit targets fit` (edgekit.targets.calibration.fitted) writes the file from the published
results; the estimator only reads it, so estimating never imports the fit, the calibration zoo
or the published tables.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

FITTED_PATH = Path(__file__).parent / "fitted.json"
SCHEMA = 1


@lru_cache(maxsize=4)
def load_fitted(path: Path = FITTED_PATH) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(
            f"fitted factors not found: {path}", hint="run `edgekit targets fit` to produce them"
        ) from None
    if data.get("schema") != SCHEMA:
        raise UsageError(f"{path}: schema: expected {SCHEMA}, got {data.get('schema')!r}")
    return data


def runtime_arithmetic(fitted: dict[str, Any], runtime: str | None) -> str:
    """How RUNTIME computes in the latency model: its estimates must use the fit's arithmetic."""
    return fitted.get("estimate_arithmetic", {}).get(runtime or "", "simd")
