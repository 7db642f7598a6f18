"""`edgekit targets calibrate`: fit a user profile on the user's own measured results.

The published fit gives the shape of the model (cost per op class, memory and overhead terms);
the user's measurements set this device's own speed (one scale per dtype) and, with two or more
thread counts, its thread scaling. A second, richer candidate also fits a correction per op class
(only classes that take at least 10 % of the time in two or more measured artifacts; the biggest
class is the reference). Held-out error decides between them: each artifact in turn is left out,
the rest refitted, the left-out one predicted; the candidate with the lower median error wins, so
noisy measurements cannot buy a wild per-class factor. With fewer than 3 artifacts there is no
held-out error and the simple candidate is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edgekit.errors import UsageError
from edgekit.fsutil import atomic_write_text
from edgekit.targets.calibration.bench_input import Measurement
from edgekit.targets.calibration.numerics import error_metrics, levenberg_marquardt
from edgekit.targets.fitted import load_fitted, runtime_arithmetic
from edgekit.targets.latency_model import (
    COMPUTE_TERMS,
    MEMORY_TERMS,
    latency_ms,
    macs_per_cycle,
    parallel_share,
)
from edgekit.targets.profile import Calibration, TargetProfile

SHARE_MIN = 0.10
# Near-flat prior: the user's measurements decide. Parameters the measurements cannot identify are
# not fitted at all (the share and thread-count rules above), so the prior only keeps the solve
# well-conditioned; a tighter one would pull a 2x-slower device back toward the base profile.
PRIOR_SIGMA = 100.0


@dataclass
class UserLayout:
    names: list[str]
    mu: np.ndarray

    def at(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None


@dataclass
class CalibrationResult:
    profile: TargetProfile
    factors: dict[str, Any]
    fitted_ms: list[float]
    held_out_ms: list[float | None]
    measurements: list[Measurement]


def _base_terms(base: TargetProfile, m: Measurement, published: dict[str, Any]) -> dict[str, Any]:
    hw = base.hardware
    return {
        "compute_cost": np.array([published["compute_cost"][m.dtype][c] for c in COMPUTE_TERMS]),
        "memory_cost": np.array([published["memory_cost"][m.dtype][k] for k in MEMORY_TERMS]),
        "overhead_us": published["overhead_us"],
        "clock_ghz": hw.clock_ghz,
        "macs_per_cycle": macs_per_cycle(
            hw.fp32_macs_per_cycle,
            hw.dotprod,
            m.dtype,
            runtime_arithmetic(load_fitted(), m.runtime),
            hw.simd_bits,
        ),
        "bandwidth_gbs": hw.mem_bandwidth_gbs,
    }


def _predict(
    theta: np.ndarray, lay: UserLayout, ms: list[Measurement], base: TargetProfile, published: dict
) -> np.ndarray:
    out = []
    for m in ms:
        terms = _base_terms(base, m, published)
        mult = np.array(
            [math.exp(theta[i]) if (i := lay.at(f"mult:{c}")) is not None else 1.0 for c in COMPUTE_TERMS]
        )
        i_par = lay.at(f"par:{m.dtype}")
        parallel = parallel_share(
            1 / (1 + math.exp(-theta[i_par])) if i_par is not None else published["parallel"][m.dtype],
            published.get("parallel_bandwidth_exponent", 0.0),
            base.hardware.core_bandwidth_gbs,
        )
        terms["compute_cost"] = terms["compute_cost"] * mult
        scale = math.exp(theta[lay.at(f"scale:{m.dtype}")])
        f = m.features
        out.append(
            float(
                latency_ms(
                    f.compute,
                    f.memory,
                    f.n_ops,
                    parallel=parallel,
                    threads=min(m.threads, base.hardware.cores),
                    scale=scale,
                    **terms,
                )
            )
        )
    return np.array(out)


def _class_shares(ms: list[Measurement], base: TargetProfile, published: dict) -> dict[str, list[float]]:
    shares: dict[str, list[float]] = {c: [] for c in COMPUTE_TERMS}
    for m in ms:
        t = _base_terms(base, m, published)
        part = m.features.compute * t["compute_cost"] / (t["clock_ghz"] * t["macs_per_cycle"] * 1e6)
        total = part.sum() + float((m.features.memory * t["memory_cost"]).sum()) / (t["bandwidth_gbs"] * 1e6)
        for c, v in zip(COMPUTE_TERMS, part):
            shares[c].append(float(v / total) if total > 0 else 0.0)
    return shares


def make_layout(
    ms: list[Measurement],
    base: TargetProfile,
    published: dict,
    prior_scale: dict[str, float],
    classes: bool = True,
) -> UserLayout:
    dtypes = sorted({m.dtype for m in ms})
    names = [f"scale:{q}" for q in dtypes]
    mu = [math.log(prior_scale.get(q, 1.0)) for q in dtypes]
    by_artifact = {m.artifact: m for m in ms}
    shares = _class_shares(list(by_artifact.values()), base, published)
    strong = [c for c, s in shares.items() if classes and sum(x >= SHARE_MIN for x in s) >= 2]
    reference = max(strong, key=lambda c: sum(shares[c]), default=None)
    for c in strong:
        if c != reference:
            names.append(f"mult:{c}")
            mu.append(0.0)
    for q in dtypes:
        if len({m.threads for m in ms if m.dtype == q}) >= 2:
            names.append(f"par:{q}")
            p = published["parallel"][q]
            mu.append(math.log(p / (1 - p)))
    return UserLayout(names, np.array(mu))


def _fit(ms: list[Measurement], lay: UserLayout, base: TargetProfile, published: dict) -> np.ndarray:
    actual = np.log([m.latency_ms for m in ms])

    def residuals(theta: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [np.log(_predict(theta, lay, ms, base, published)) - actual, (theta - lay.mu) / PRIOR_SIGMA]
        )

    return levenberg_marquardt(residuals, lay.mu.copy())


def _held_out(
    ms: list[Measurement], lay: UserLayout, base: TargetProfile, published: dict
) -> list[float | None]:
    artifacts = sorted({m.artifact for m in ms})
    if len(artifacts) < 3:
        return [None] * len(ms)
    pred: list[float | None] = [None] * len(ms)
    for a in artifacts:
        train = [m for m in ms if m.artifact != a]
        theta = _fit(train, lay, base, published)
        idx = [i for i, m in enumerate(ms) if m.artifact == a]
        for i, p in zip(idx, _predict(theta, lay, [ms[i] for i in idx], base, published)):
            pred[i] = float(p)
    return pred


def _median_error(held: list[float | None], ms: list[Measurement]) -> float:
    errs = [abs(p - m.latency_ms) / m.latency_ms for p, m in zip(held, ms) if p is not None]
    return float(np.median(errs)) if errs else math.inf


def _choose(
    ms: list[Measurement], base: TargetProfile, published: dict, prior: dict[str, float]
) -> tuple[UserLayout, list[float | None]]:
    """The simple or the per-class candidate, whichever predicts left-out artifacts better."""
    simple = make_layout(ms, base, published, prior, classes=False)
    rich = make_layout(ms, base, published, prior, classes=True)
    held_simple = _held_out(ms, simple, base, published)
    if rich.names == simple.names or held_simple[0] is None:
        return simple, held_simple
    held_rich = _held_out(ms, rich, base, published)
    if _median_error(held_rich, ms) < _median_error(held_simple, ms):
        return rich, held_rich
    return simple, held_simple


def _prior_scale(base: TargetProfile, runtime: str, fitted: dict) -> dict[str, float]:
    """The base profile's published scale per dtype, as the prior centre (1.0 when it has none)."""
    device = fitted["factors"]["devices"].get(base.calibration.device or "")
    family = fitted["factors"]["families"].get(fitted["estimate_families"].get(runtime, ""), {})
    if device is None:
        return {}
    dot = fitted["factors"].get("dotprod", {}) if base.hardware.dotprod else {}
    return {q: device["scale"] * f * dot.get(q, 1.0) for q, f in family.items()}


def calibrate(ms: list[Measurement], base: TargetProfile, name: str) -> CalibrationResult:
    if not ms:
        raise UsageError(
            "no usable measurements to calibrate on",
            hint="each result needs artifact, p50_ms (or latency_ms) and threads",
        )
    runtimes = {m.runtime for m in ms}
    if len(runtimes) > 1:
        raise UsageError(
            f"measurements from several runtimes ({', '.join(sorted(runtimes))}): calibrate one runtime at a time"
        )
    fitted = load_fitted()
    published = fitted["factors"]
    missing = sorted({m.dtype for m in ms} - set(published["compute_cost"]))
    if missing:
        raise UsageError(
            f"cannot calibrate {', '.join(missing)} measurements: the latency model has no {missing[0]} factors"
        )
    runtime = runtimes.pop()
    lay, held = _choose(ms, base, published, _prior_scale(base, runtime, fitted))
    theta = _fit(ms, lay, base, published)
    fitted_ms = _predict(theta, lay, ms, base, published)
    factors = _factors(theta, lay, ms, runtime, base, held)
    profile = _user_profile(base, name, factors)
    return CalibrationResult(profile, factors, [float(x) for x in fitted_ms], held, ms)


def _factors(
    theta: np.ndarray,
    lay: UserLayout,
    ms: list[Measurement],
    runtime: str,
    base: TargetProfile,
    held: list[float | None],
) -> dict[str, Any]:
    pairs = [(p, m.latency_ms) for p, m in zip(held, ms) if p is not None]
    held_metrics = (
        error_metrics(np.array([p for p, _ in pairs]), np.array([a for _, a in pairs])) if pairs else None
    )
    return {
        "runtime": runtime,
        "base": base.name,
        "measurements": len(ms),
        "artifacts": len({m.artifact for m in ms}),
        "scale": {
            n.split(":")[1]: math.exp(theta[i]) for i, n in enumerate(lay.names) if n.startswith("scale:")
        },
        "class_multiplier": {
            n.split(":")[1]: math.exp(theta[i]) for i, n in enumerate(lay.names) if n.startswith("mult:")
        },
        "parallel": {
            n.split(":")[1]: 1 / (1 + math.exp(-theta[i]))
            for i, n in enumerate(lay.names)
            if n.startswith("par:")
        },
        "held_out": held_metrics,
    }


def _user_profile(base: TargetProfile, name: str, factors: dict[str, Any]) -> TargetProfile:
    return TargetProfile(
        name=name,
        aliases=[],
        description=f"{base.description}; calibrated on {factors['measurements']} measurements",
        hardware=base.hardware,
        runtimes=base.runtimes,
        plan=base.plan,
        calibration=Calibration(device=None, fitted=factors),
        notes=f"Written by `edgekit targets calibrate` from measurements on the device; hardware and plan from {base.name}.",
    )


def write_profile(profile: TargetProfile, out: Path) -> Path:
    data = profile.model_dump(mode="json", exclude_none=False)
    return atomic_write_text(out, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
