"""Latency-model features of the calibration models, kept as data so fitting needs no TensorFlow.

`targets evaluate` converts the calibration models and writes these features;
`targets fit` reads them with the published results to produce fitted.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError
from edgekit.fsutil import atomic_write_json
from edgekit.targets.analysis.graph import GraphAnalysis
from edgekit.targets.latency_model import Features, graph_features

PACKAGE_FEATURES = Path(__file__).parent / "model_features.json"
SCHEMA = 1

FeatureTable = dict[tuple[str, str], Features]


def entry(analysis: GraphAnalysis) -> dict[str, Any]:
    """Features plus the totals a reader wants to see, for one converted model."""
    return {
        **graph_features(analysis).to_dict(),
        "total_macs": analysis.total_macs,
        "weight_bytes": analysis.weight_bytes,
        "peak_activation_bytes": analysis.peak_activation_bytes,
        "size_bytes": analysis.size_bytes,
        "num_ops": len(analysis.ops),
    }


def save_features(path: Path, entries: dict[str, dict[str, dict[str, Any]]]) -> Path:
    """ENTRIES: model key -> dtype -> entry()."""
    models = {k: dict(sorted(v.items())) for k, v in sorted(entries.items())}
    return atomic_write_json(
        path, {"schema": SCHEMA, "generated_by": "edgekit targets evaluate", "models": models}
    )


def load_features(path: Path = PACKAGE_FEATURES) -> FeatureTable:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(
            f"calibration model features not found: {path}",
            hint="run `edgekit targets evaluate` to build them",
        ) from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    if data.get("schema") != SCHEMA:
        raise UsageError(f"{path}: schema: expected {SCHEMA}, got {data.get('schema')!r}")
    return {
        (model, dtype): Features.from_dict(e)
        for model, dtypes in data["models"].items()
        for dtype, e in dtypes.items()
    }
