"""Fit the latency model's factors on published device results, and measure held-out error.

Least squares on log latency (errors are relative: 10 ms off matters on a 20 ms model, not on a
2 s one), Levenberg-Marquardt with numerical derivatives, numpy only. Every factor has a weak
prior (a ridge term in log space); the device and runtime-family terms have tighter ones, so a
device or family with no rows left in a fold falls back to "what its specs predict" instead of an
arbitrary value. That fallback is what leave-one-source-out measures when a fold removes the only
source of a device or of a runtime. Runtimes of one kind (FAMILY_GROUPS) share a group term, so
a runtime whose only source is left out is predicted from the other runtimes of its kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edgekit.targets.calibration import zoo
from edgekit.targets.calibration.numerics import levenberg_marquardt
from edgekit.targets.calibration.published import DeviceSpec, PublishedRow
from edgekit.targets.latency_model import (
    COMPUTE_DTYPES,
    COMPUTE_TERMS,
    MEMORY_TERMS,
    Features,
    latency_ms,
    macs_per_cycle,
    parallel_share,
)

REFERENCE_FAMILY = "tflite"  # its factors are 1: the other runtime families are relative to it
# Runtimes of one kind share a term, so a runtime whose only source is held out is predicted from
# its kind: operator libraries with hand-tuned kernels (XNNPACK, ncnn), and TF.js's wasm backend,
# which runs XNNPACK's kernels compiled to WebAssembly (its wasm arithmetic is in devices.yaml).
FAMILY_GROUPS = {"xnnpack": "native", "ncnn": "native", "tfjs-wasm": "native", "tfjs-wasm-simd": "native"}

# Prior (centre, sigma) of each parameter kind, in log space (parallel share: logit space).
PRIORS = {
    "cls": (math.log(2.0), 2.0),  # cost per unit relative to peak: 2 = half of peak
    "mem": (0.0, 2.0),
    "ovh": (0.0, 3.0),
    "par": (math.log(0.8 / 0.2), 2.0),
    "parbw": (0.0, 1.0),  # exponent of bandwidth per core in the parallel share's logit: none
    "os32": (0.0, 0.3),
    "fam": (0.0, 0.7),
    "grp": (0.0, 0.7),
    "dev": (0.0, 1.0),
    "dot": (0.0, 0.7),  # how far int8 on SDOT cores falls short of the 4x-fp32 lanes it is given
}
BAND_MIN_ROWS = 8  # fewer held-out rows on a device: its band is the pooled one


@dataclass
class Design:
    """The published rows as arrays the model can be evaluated on in one call."""

    rows: list[PublishedRow]
    compute: np.ndarray
    memory: np.ndarray
    n_ops: np.ndarray
    clock: np.ndarray
    lanes: np.ndarray
    bandwidth: np.ndarray
    threads: np.ndarray
    os32: np.ndarray
    actual: np.ndarray
    dot: np.ndarray  # int8 on a core with the dot-product extension (SDOT): the "dot" factor applies
    core_bandwidth: np.ndarray  # bandwidth over the cores that run the threads (big cores)

    def subset(self, mask: np.ndarray) -> Design:
        idx = np.flatnonzero(mask)
        names = (
            "compute",
            "memory",
            "n_ops",
            "clock",
            "lanes",
            "bandwidth",
            "threads",
            "os32",
            "actual",
            "dot",
            "core_bandwidth",
        )
        return Design(rows=[self.rows[i] for i in idx], **{k: getattr(self, k)[idx] for k in names})


def make_design(
    rows: list[PublishedRow],
    features: dict[tuple[str, str], Features],
    specs: dict[str, DeviceSpec],
    winograd: dict[str, float] | None = None,
) -> Design:
    """WINOGRAD: runtime family -> multiply reduction of its 3x3 stride-1 convolutions."""
    rows = [r for r in rows if (r.model, r.dtype) in features]
    f = [features[(r.model, r.dtype)] for r in rows]
    s = [specs[r.device] for r in rows]
    reduction = [float((winograd or {}).get(r.family, 1.0)) for r in rows]
    return Design(
        rows=rows,
        compute=np.array([x.with_winograd(w) for x, w in zip(f, reduction)], dtype=float).reshape(
            len(rows), len(COMPUTE_TERMS)
        ),
        memory=np.array([x.memory for x in f], dtype=float).reshape(len(rows), len(MEMORY_TERMS)),
        n_ops=np.array([float(x.n_ops) for x in f]),
        clock=np.array([d.clock_ghz for d in s]),
        lanes=np.array(
            [
                macs_per_cycle(d.fp32_macs_per_cycle, d.dotprod, r.dtype, r.arithmetic, d.simd_bits)
                for d, r in zip(s, rows)
            ]
        ),
        bandwidth=np.array([d.mem_bandwidth_gbs for d in s]),
        threads=np.array([float(min(r.threads, d.cores)) for d, r in zip(s, rows)]),
        os32=np.array([r.os_bits == 32 for r in rows]),
        actual=np.array([r.latency_ms for r in rows]),
        dot=np.array([x.dotprod and r.dtype == "int8" for x, r in zip(s, rows)]),
        core_bandwidth=np.array([d.mem_bandwidth_gbs / d.big_cores for d in s]),
    )


def group_param(r: PublishedRow) -> str:
    return f"grp:{FAMILY_GROUPS.get(r.family)}:{r.dtype}"


@dataclass
class Layout:
    """Names of the parameters and their priors; a name that is absent reads as 0 (factor 1)."""

    names: list[str]
    mu: np.ndarray
    sigma: np.ndarray
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {n: i for i, n in enumerate(self.names)}

    def at(self, name: str) -> int:
        return self.index.get(name, len(self.names))  # the trailing zero appended in predict()


def make_layout(rows: list[PublishedRow]) -> Layout:
    dtypes = [d for d in COMPUTE_DTYPES if any(r.dtype == d for r in rows)]
    names = [f"cls:{c}:{d}" for d in dtypes for c in COMPUTE_TERMS]
    names += (
        [f"mem:{m}:{d}" for d in dtypes for m in MEMORY_TERMS]
        + [f"par:{d}" for d in dtypes]
        + ["parbw", "ovh"]
    )
    names += [f"os32:{d}" for d in dtypes if any(r.os_bits == 32 and r.dtype == d for r in rows)]
    names += sorted({f"fam:{r.family}:{r.dtype}" for r in rows if r.family != REFERENCE_FAMILY})
    names += sorted({group_param(r) for r in rows if r.family in FAMILY_GROUPS})
    names += sorted({f"dev:{r.device}" for r in rows}) + ["dot"]
    mu = np.array([PRIORS[n.split(":")[0]][0] for n in names])
    sigma = np.array([PRIORS[n.split(":")[0]][1] for n in names])
    return Layout(names, mu, sigma)


def predict(theta: np.ndarray, layout: Layout, d: Design) -> np.ndarray:
    t = np.append(theta, 0.0)
    rows = d.rows

    def pick(fmt: str) -> np.ndarray:
        return t[[layout.at(fmt.format(r=r)) for r in rows]]

    cls = np.array(
        [[layout.at(f"cls:{c}:{r.dtype}") for c in COMPUTE_TERMS] for r in rows], dtype=int
    ).reshape(len(rows), -1)
    mem = np.array(
        [[layout.at(f"mem:{m}:{r.dtype}") for m in MEMORY_TERMS] for r in rows], dtype=int
    ).reshape(len(rows), -1)
    log_scale = (
        pick("dev:{r.device}")
        + pick("fam:{r.family}:{r.dtype}")
        + t[[layout.at(group_param(r)) for r in rows]]
        + d.os32 * pick("os32:{r.dtype}")
        + d.dot * t[layout.at("dot")]
    )
    return latency_ms(
        d.compute,
        d.memory,
        d.n_ops,
        compute_cost=np.exp(t[cls]),
        memory_cost=np.exp(t[mem]),
        overhead_us=math.exp(t[layout.at("ovh")]),
        parallel=parallel_share(
            1.0 / (1.0 + np.exp(-pick("par:{r.dtype}"))), t[layout.at("parbw")], d.core_bandwidth
        ),
        clock_ghz=d.clock,
        macs_per_cycle=d.lanes,
        bandwidth_gbs=d.bandwidth,
        threads=d.threads,
        scale=np.exp(log_scale),
    )


def fit_theta(d: Design, layout: Layout) -> np.ndarray:
    log_actual = np.log(d.actual)

    def residuals(theta: np.ndarray) -> np.ndarray:
        data = np.log(predict(theta, layout, d)) - log_actual
        return np.concatenate([data, (theta - layout.mu) / layout.sigma])

    return levenberg_marquardt(residuals, layout.mu.copy())


def held_out(d: Design, layout: Layout, groups: list[str]) -> np.ndarray:
    """Prediction of every row by a fit that saw no row of its group."""
    keys = np.array(groups)
    pred = np.full(len(d.rows), np.nan)
    for g in sorted(set(groups)):
        test = keys == g
        theta = fit_theta(d.subset(~test), layout)
        pred[test] = predict(theta, layout, d.subset(test))
    return pred


def architecture(model_key: str) -> str:
    return zoo.ZOO[model_key].arch


def cross_validate(d: Design, layout: Layout) -> dict[str, np.ndarray]:
    """Held-out predictions: leave-one-source-out and leave-one-model(architecture)-out."""
    return {
        "loso": held_out(d, layout, [r.source for r in d.rows]),
        "lomo": held_out(d, layout, [architecture(r.model) for r in d.rows]),
    }
