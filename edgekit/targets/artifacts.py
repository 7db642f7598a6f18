"""Estimates for the artifacts of a run: what the pipeline calls for its summary.

A .tflite or .onnx artifact is analysed directly. A TF.js artifact has no graph reader here; it is
estimated from the fp32 tflite artifact of the same run (the same reference graph, converted by
another converter) with the target's TF.js runtime, and the estimate says so.
"""

from __future__ import annotations

from edgekit.artifact import Artifact
from edgekit.targets.analysis import GraphAnalysis, analyze
from edgekit.targets.estimator import Estimate, estimate
from edgekit.targets.profile import TargetProfile

_TFJS_RUNTIMES = ("tfjs-browser", "tfjs-node")


def _proxy(artifacts: list[Artifact]) -> Artifact | None:
    tflite = [a for a in artifacts if a.format == "tflite"]
    return next((a for a in tflite if a.quant == "fp32"), tflite[0] if tflite else None)


def estimate_artifacts(artifacts: list[Artifact], profile: TargetProfile, threads: int | None = None) -> dict[str, Estimate | str]:
    """artifact name -> its Estimate, or the reason there is none (a string)."""
    out: dict[str, Estimate | str] = {}
    cache: dict[str, GraphAnalysis] = {}

    def analysis_of(a: Artifact) -> GraphAnalysis:
        if a.name not in cache:
            cache[a.name] = analyze(a.path)
        return cache[a.name]

    for a in artifacts:
        if a.format in ("tflite", "onnx"):
            out[a.name] = estimate(analysis_of(a), profile, quant=a.quant, threads=threads)
            continue
        proxy = _proxy(artifacts)
        runtime = next((r for r in _TFJS_RUNTIMES if r in profile.runtimes), None)
        if a.format != "tfjs" or proxy is None or runtime is None:
            out[a.name] = (f"no estimate for {a.format} on {profile.name}: "
                           + ("no tflite artifact of the same reference to read the graph from" if proxy is None
                              else f"the target has no {a.format} runtime"))
            continue
        out[a.name] = estimate(analysis_of(proxy), profile, quant=a.quant, threads=threads, runtime=runtime)
    return out
