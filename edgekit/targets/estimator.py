"""Estimate an artifact's latency and memory on a target, from its graph analysis and the profile.

Latency comes from the latency model (latency_model.py) with factors fitted on published device
results (fitted.json) or on the user's own measurements (a profile written by `targets
calibrate`). The band is the spread of held-out errors measured for that device, so it says how
right such estimates were on results the fit never saw. Where nothing was fitted for a case (a
runtime or dtype without published results, a device without any), latency is None and a warning
says why: the estimator never makes a number up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.targets.analysis.graph import GraphAnalysis
from edgekit.targets.fitted import load_fitted, runtime_arithmetic
from edgekit.targets.latency_model import (
    COMPUTE_TERMS,
    MEMORY_TERMS,
    latency_ms,
    macs_per_cycle,
    op_features,
    parallel_share,
)
from edgekit.targets.memory import MemoryVerdict, memory_verdict
from edgekit.targets.opsupport import float_kernels_on_mcu, unsupported_ops
from edgekit.targets.profile import TargetProfile

# Quant mode -> the dtype kernels compute in. fp16 weights (tflite) and TF.js uint8/uint16/fp16
# weights are expanded to float32 when the model is loaded, so they run as fp32.
COMPUTE_DTYPE = {"fp32": "fp32", "fp16": "fp32", "uint8": "fp32", "uint16": "fp32", "int8": "int8"}


@dataclass
class Latency:
    ms: float
    low_ms: float
    high_ms: float
    per_op_ms: list[float]
    basis: str


@dataclass
class Estimate:
    target: str
    runtime: str | None
    quant: str
    threads: int
    latency_ms: float | None
    low_ms: float | None
    high_ms: float | None
    peak_ram_bytes: int
    flash_bytes: int | None
    fits: bool
    warnings: list[str] = field(default_factory=list)
    basis: str = ""  # what the figures rest on: fitted rows, band source
    per_op_ms: list[float] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)

    def slowest_ops(self, analysis: GraphAnalysis, n: int = 5) -> list[dict[str, Any]]:
        order = np.argsort(self.per_op_ms)[::-1][:n]
        return [
            {
                "index": int(i),
                "type": analysis.ops[i].type,
                "class": analysis.ops[i].op_class,
                "ms": round(self.per_op_ms[i], 3),
            }
            for i in order
            if self.per_op_ms
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "runtime": self.runtime,
            "quant": self.quant,
            "threads": self.threads,
            "latency_ms": self.latency_ms,
            "low_ms": self.low_ms,
            "high_ms": self.high_ms,
            "peak_ram_bytes": self.peak_ram_bytes,
            "flash_bytes": self.flash_bytes,
            "fits": self.fits,
            "memory": self.memory,
            "warnings": list(self.warnings),
            "basis": self.basis,
        }


def default_runtime(profile: TargetProfile, fmt: str) -> str | None:
    """The first of the format's runtimes (its plugin's target_runtimes) that PROFILE runs."""
    from edgekit.convert import target_runtime

    return target_runtime(fmt, profile.runtimes)


def _threads(profile: TargetProfile, threads: int | None, warnings: list[str]) -> int:
    wanted = threads or profile.plan.threads
    limit = profile.hardware.big_cores or profile.hardware.cores
    if wanted > limit:
        warnings.append(
            f"{wanted} threads requested; estimated with {limit}, the {profile.name}'s "
            f"{'big ' if profile.hardware.big_cores else ''}cores (more threads would share cores)"
        )
    return max(1, min(wanted, limit))


def _band(est: float, band: dict[str, Any]) -> tuple[float, float]:
    # Held-out ratios are predicted/actual: the actual time lies between est/p90 and est/p10.
    return est / band["ratio_p90"], est / band["ratio_p10"]


def _published_case(
    profile: TargetProfile, runtime: str, dtype: str, fitted: dict[str, Any], warnings: list[str]
) -> tuple[float, dict[str, Any], str] | None:
    """(scale, band, basis) for a profile calibrated on published results, or None with a warning."""
    key = profile.calibration.device
    factors = fitted["factors"]
    device = factors["devices"].get(key) if key else None
    if device is None:
        warnings.append(
            f"no published results for {profile.name}: latency not estimated "
            f"(measure on the device and run `edgekit targets calibrate`)"
        )
        return None
    family = fitted["estimate_families"].get(runtime)
    fam = factors["families"].get(family or "", {})
    if dtype not in fam or dtype not in factors["compute_cost"]:
        warnings.append(f"no published {runtime} {dtype} results to calibrate on: latency not estimated")
        return None
    if dtype not in device["dtypes"]:
        warnings.append(
            f"no published {dtype} results on {key}: its {dtype} estimate uses {dtype} factors fitted on other devices"
        )
    scale = device["scale"] * fam[dtype]
    if profile.hardware.os_bits == 32:
        scale *= factors["os32"].get(dtype, 1.0)
    if profile.hardware.dotprod:
        scale *= factors.get("dotprod", {}).get(dtype, 1.0)
    band = fitted["held_out"]["bands"].get(key, fitted["held_out"]["bands"]["pooled"])
    basis = (
        f"fitted on {device['rows']} published results for {key} ({', '.join(device['sources'])}) and "
        f"{fitted['rows']['used']} in all; band: p10-p90 of held-out errors ({band['from']}, n={band['n']})"
    )
    return scale, band, basis


def _user_case(
    profile: TargetProfile, runtime: str, dtype: str, fitted: dict[str, Any], warnings: list[str]
) -> tuple[float, dict[str, Any], str, dict[str, Any]] | None:
    user = profile.calibration.fitted or {}
    if user.get("runtime") != runtime:
        warnings.append(
            f"{profile.name} was calibrated with {user.get('runtime')} measurements, not {runtime}: latency not estimated"
        )
        return None
    if dtype not in user.get("scale", {}):
        warnings.append(f"{profile.name} was calibrated without {dtype} measurements: latency not estimated")
        return None
    held = user.get("held_out") or {}
    band = (
        held
        if held.get("n", 0) >= 5
        else {**fitted["held_out"]["bands"]["pooled"], "from": "pooled published"}
    )
    basis = (
        f"calibrated on {user.get('measurements')} of your measurements; band: "
        f"{'held-out errors of your measurements' if band is held else 'pooled published held-out errors (too few of yours)'}"
    )
    return float(user["scale"][dtype]), band, basis, user


def _latency(
    analysis: GraphAnalysis,
    profile: TargetProfile,
    runtime: str,
    dtype: str,
    threads: int,
    warnings: list[str],
) -> Latency | None:
    fitted = load_fitted()
    factors = fitted["factors"]
    if profile.calibration.fitted:
        case = _user_case(profile, runtime, dtype, fitted, warnings)
        if case is None:
            return None
        scale, band, basis, user = case
        mult = user.get("class_multiplier", {})
        parallel = user.get("parallel", {}).get(dtype, factors["parallel"][dtype])
    else:
        published = _published_case(profile, runtime, dtype, fitted, warnings)
        if published is None:
            return None
        (scale, band, basis), mult, parallel = published, {}, factors["parallel"][dtype]
    hw = profile.hardware
    f = op_features(analysis.ops)
    per_op = latency_ms(
        f.compute,
        f.memory,
        f.n_ops,
        compute_cost=np.array([factors["compute_cost"][dtype][c] * mult.get(c, 1.0) for c in COMPUTE_TERMS]),
        memory_cost=np.array([factors["memory_cost"][dtype][m] for m in MEMORY_TERMS]),
        overhead_us=factors["overhead_us"],
        clock_ghz=hw.clock_ghz,
        parallel=parallel_share(
            parallel, factors.get("parallel_bandwidth_exponent", 0.0), hw.core_bandwidth_gbs
        ),
        macs_per_cycle=macs_per_cycle(
            hw.fp32_macs_per_cycle, hw.dotprod, dtype, runtime_arithmetic(fitted, runtime), hw.simd_bits
        ),
        bandwidth_gbs=hw.mem_bandwidth_gbs,
        threads=threads,
        scale=scale,
    )
    total = float(per_op.sum())
    low, high = _band(total, band)
    return Latency(total, low, high, [float(x) for x in per_op], basis)


def _dtype_for(quant: str, analysis: GraphAnalysis, warnings: list[str]) -> str | None:
    dtype = COMPUTE_DTYPE.get(quant)
    if dtype is None:
        warnings.append(f"no published results for quant mode {quant}: latency not estimated")
        return None
    heavy = [op.dtype for op in analysis.ops if op.macs]
    graph_int8 = bool(heavy) and all(d in ("int8", "uint8") for d in heavy)
    if (dtype == "int8") != graph_int8 and heavy:
        warnings.append(f"quant {quant} but the graph's MAC ops compute in {heavy[0]}: check the artifact")
    return dtype


def estimate(
    analysis: GraphAnalysis,
    profile: TargetProfile,
    *,
    quant: str,
    threads: int | None = None,
    runtime: str | None = None,
) -> Estimate:
    """Latency (with band), peak RAM and fit verdict of ANALYSIS's artifact on PROFILE.

    RUNTIME defaults to the profile's runtime for the analysed format (litert for .tflite,
    onnxruntime for .onnx). Pass runtime="tfjs-browser" with the analysis of a tflite artifact to
    estimate the TF.js artifact converted from the same reference.
    """
    warnings: list[str] = []
    runtime = runtime or default_runtime(profile, analysis.format)
    if runtime is None:
        warnings.append(
            f"{profile.name} has no runtime for {analysis.format} artifacts (it has {', '.join(profile.runtimes)})"
        )
    elif runtime not in profile.runtimes:
        warnings.append(
            f"{profile.name} does not list runtime {runtime} (it has {', '.join(profile.runtimes)})"
        )
    if runtime and runtime.startswith("tfjs"):
        warnings.append(
            f"TF.js estimate made from the {analysis.format} graph of the same reference ({analysis.path.name})"
        )
    n_threads = _threads(profile, threads, warnings)
    mem = memory_verdict(analysis, profile, runtime, quant)
    warnings += mem.warnings
    if runtime is not None:
        missing = unsupported_ops(analysis, runtime)
        if missing:
            warnings.append(f"{runtime} on {profile.name} lacks ops: {', '.join(missing)}")
        if runtime == "tflite-micro" and float_kernels_on_mcu(analysis):
            warnings.append(
                "float MAC ops on TFLite Micro run as reference C kernels (no CMSIS-NN): use int8"
            )
    dtype = _dtype_for(quant, analysis, warnings)
    lat = _latency(analysis, profile, runtime, dtype, n_threads, warnings) if runtime and dtype else None
    return _assemble(profile, runtime, quant, n_threads, lat, mem, warnings)


def _assemble(
    profile: TargetProfile,
    runtime: str | None,
    quant: str,
    threads: int,
    lat: Latency | None,
    mem: MemoryVerdict,
    warnings: list[str],
) -> Estimate:
    return Estimate(
        target=profile.name,
        runtime=runtime,
        quant=quant,
        threads=threads,
        latency_ms=None if lat is None else round(lat.ms, 3),
        low_ms=None if lat is None else round(lat.low_ms, 3),
        high_ms=None if lat is None else round(lat.high_ms, 3),
        peak_ram_bytes=mem.peak_ram_bytes,
        flash_bytes=mem.flash_bytes,
        fits=mem.fits,
        warnings=warnings,
        basis="" if lat is None else lat.basis,
        per_op_ms=[] if lat is None else lat.per_op_ms,
        memory=mem.to_dict(),
    )
