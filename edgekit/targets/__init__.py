"""Device profiles, graph analysis and latency/memory estimates.

    from edgekit.targets import analyze, estimate, resolve_target
    analysis = analyze(Path("model.tflite"))
    est = estimate(analysis, resolve_target("rpi4"), quant="int8")
    est.latency_ms, est.low_ms, est.high_ms, est.peak_ram_bytes, est.fits, est.warnings

No TensorFlow import happens here; only `targets evaluate` (which converts models) needs it.
"""

from edgekit.targets.analysis import GraphAnalysis, OpInfo, TensorInfo, analyze
from edgekit.targets.estimator import Estimate, estimate
from edgekit.targets.profile import (
    TargetProfile,
    alias_note,
    builtin_targets,
    load_profile_file,
    resolve_target,
)

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
