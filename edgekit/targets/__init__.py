"""Device profiles, graph analysis and latency/memory estimates.

    from edgekit.targets import analyze, estimate, resolve_target
    analysis = analyze(Path("model.tflite"))
    est = estimate(analysis, resolve_target("rpi4"), quant="int8")
    est.latency_ms, est.low_ms, est.high_ms, est.peak_ram_bytes, est.fits, est.warnings

No TensorFlow import happens here; only `targets evaluate` (which converts models) needs it.
Names are imported on first use, so importing a submodule (the command line imports
edgekit.targets.cli at start-up) does not load the estimator, the profiles or the analysis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgekit.targets.analysis import GraphAnalysis, OpInfo, TensorInfo, analyze
    from edgekit.targets.estimator import Estimate, estimate
    from edgekit.targets.profile import (
        TargetProfile,
        alias_note,
        builtin_targets,
        load_profile_file,
        resolve_target,
    )

_API = {
    "Estimate": "edgekit.targets.estimator",
    "estimate": "edgekit.targets.estimator",
    "GraphAnalysis": "edgekit.targets.analysis",
    "OpInfo": "edgekit.targets.analysis",
    "TensorInfo": "edgekit.targets.analysis",
    "analyze": "edgekit.targets.analysis",
    "TargetProfile": "edgekit.targets.profile",
    "alias_note": "edgekit.targets.profile",
    "builtin_targets": "edgekit.targets.profile",
    "load_profile_file": "edgekit.targets.profile",
    "resolve_target": "edgekit.targets.profile",
}

__all__ = [
    "Estimate",
    "GraphAnalysis",
    "OpInfo",
    "TargetProfile",
    "TensorInfo",
    "alias_note",
    "analyze",
    "builtin_targets",
    "estimate",
    "load_profile_file",
    "resolve_target",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'edgekit.targets' has no attribute {name!r}")
