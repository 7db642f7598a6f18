"""Fit the latency model's factors on published device results, and measure held-out error.

Least squares on log latency (errors are relative: 10 ms off matters on a 20 ms model, not on a
2 s one), Levenberg-Marquardt with numerical derivatives, numpy only. Every factor has a weak
prior (a ridge term in log space); the device and runtime-family terms have tighter ones, so a
device or family with no rows left in a fold falls back to "what its specs predict" instead of
an arbitrary value. That fallback is what leave-one-out measures when a fold removes the only
source of a device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgekit.targets.latency_model import COMPUTE_DTYPES, COMPUTE_TERMS, MEMORY_TERMS, Features, latency_ms, macs_per_cycle
from edgekit.targets.published import DeviceSpec, PublishedRow

REFERENCE_FAMILY = "tflite"  # its factors are 1: the other families are relative to it

# Prior (centre, sigma) of each parameter kind, in log space (parallel: logit space).
PRIORS = {
    "cls": (math.log(2.0), 2.0),  # cost per MAC relative to peak: 2 = half of peak
    "mem": (0.0, 2.0),
    "ovh": (0.0, 3.0),
    "par": (math.log(0.8 / 0.2), 2.0),
    "os32": (0.0, 0.3),
    "fam": (0.0, 0.7),
    "dev": (0.0, 0.5),
    "pdev": (0.0, 1.0),
}


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

    def subset(self, mask: np.ndarray) -> "Design":
        idx = np.flatnonzero(mask)
        arrays = {k: getattr(self, k)[idx] for k in ("compute", "memory", "n_ops", "clock", "lanes", "bandwidth", "threads", "os32", "actual")}
        return Design(rows=[self.rows[i] for i in idx], **arrays)


def make_design(rows: list[PublishedRow], features: dict[tuple[str, str], Features], specs: dict[str, DeviceSpec]) -> Design:
    rows = [r for r in rows if (r.model, r.dtype) in features]
    f = [features[(r.model, r.dtype)] for r in rows]
    s = [specs[r.device] for r in rows]
    return Design(
        rows=rows,
        compute=np.array([x.compute for x in f], dtype=float).reshape(len(rows), len(COMPUTE_TERMS)),
        memory=np.array([x.memory for x in f], dtype=float).reshape(len(rows), len(MEMORY_TERMS)),
        n_ops=np.array([float(x.n_ops) for x in f]),
        clock=np.array([d.clock_ghz for d in s]),
        lanes=np.array([macs_per_cycle(d.fp32_macs_per_cycle, d.dotprod, r.dtype) for d, r in zip(s, rows)]),
        bandwidth=np.array([d.mem_bandwidth_gbs for d in s]),
        threads=np.array([float(min(r.threads, d.cores)) for d, r in zip(s, rows)]),
        os32=np.array([r.os_bits == 32 for r in rows]),
        actual=np.array([r.latency_ms for r in rows]),
    )


@dataclass
class Layout:
    """Names of the parameters, their priors, and which row uses which parameter."""

    names: list[str]
    mu: np.ndarray
    sigma: np.ndarray
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {n: i for i, n in enumerate(self.names)}

    def at(self, name: str) -> int:
        return self.index.get(name, len(self.names))  # missing: the trailing zero of _extend()


def make_layout(rows: list[PublishedRow]) -> Layout:
    dtypes = [d for d in COMPUTE_DTYPES if any(r.dtype == d for r in rows)]
    names = [f"cls:{c}:{d}" for d in dtypes for c in COMPUTE_TERMS]
    names += [f"mem:{m}:{d}" for d in dtypes for m in MEMORY_TERMS] + sorted({_par_key(r) for r in rows}) + ["ovh"]
    names += [f"os32:{d}" for d in dtypes if any(r.os_bits == 32 and r.dtype == d for r in rows)]
    names += sorted({f"fam:{r.family}:{r.dtype}" for r in rows if r.family != REFERENCE_FAMILY})
    names += sorted({f"dev:{r.device}" for r in rows})
    if PAR_DEV:
        names += sorted({f"pdev:{r.device}" for r in rows})
    mu = np.array([PRIORS[n.split(":")[0]][0] for n in names])
    sigma = np.array([PRIORS[n.split(":")[0]][1] for n in names])
    return Layout(names, mu, sigma)


PAR_BY = "dtype"
PAR_DEV = False


def _par_key(r: PublishedRow) -> str:
    return f"par:{r.dtype}" if PAR_BY == "dtype" else f"par:{r.family}" if PAR_BY == "family" else f"par:{r.family}:{r.dtype}"


def _extend(theta: np.ndarray) -> np.ndarray:
    return np.append(theta, 0.0)


def predict(theta: np.ndarray, layout: Layout, d: Design) -> np.ndarray:
    t = _extend(theta)
    rows = d.rows
    cls = np.array([[layout.at(f"cls:{c}:{r.dtype}") for c in COMPUTE_TERMS] for r in rows], dtype=int).reshape(len(rows), -1)
    mem = np.array([[layout.at(f"mem:{m}:{r.dtype}") for m in MEMORY_TERMS] for r in rows], dtype=int).reshape(len(rows), -1)
    par = t[[layout.at(_par_key(r)) for r in rows]] + t[[layout.at(f"pdev:{r.device}") for r in rows]]
    log_scale = (t[[layout.at(f"dev:{r.device}") for r in rows]]
                 + t[[layout.at(f"fam:{r.family}:{r.dtype}") for r in rows]]
                 + d.os32 * t[[layout.at(f"os32:{r.dtype}") for r in rows]])
    return latency_ms(
        d.compute, d.memory, d.n_ops,
        compute_cost=np.exp(t[cls]), memory_cost=np.exp(t[mem]),
        overhead_us=math.exp(t[layout.at("ovh")]), parallel=1.0 / (1.0 + np.exp(-par)),
        clock_ghz=d.clock, macs_per_cycle=d.lanes, bandwidth_gbs=d.bandwidth, threads=d.threads, scale=np.exp(log_scale),
    )


def _jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, r: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = []
    for i in range(x.size):
        xh = x.copy()
        xh[i] += h
        cols.append((fun(xh) - r) / h)
    return np.stack(cols, axis=1)


def levenberg_marquardt(fun: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, iters: int = 300, tol: float = 1e-12) -> np.ndarray:
    """Minimize |fun(x)|^2; damped Gauss-Newton steps, damping adapted to success."""
    x, r = x0.astype(float).copy(), fun(x0)
    cost, lam = float(r @ r), 1e-3
    for _ in range(iters):
        jac = _jacobian(fun, x, r)
        a, g = jac.T @ jac, jac.T @ r
        while lam < 1e12:
            step = np.linalg.solve(a + lam * (np.diag(np.diag(a)) + 1e-9 * np.eye(x.size)), -g)
            r_new = fun(x + step)
            c_new = float(r_new @ r_new)
            if c_new < cost:
                break
            lam *= 10.0
        else:
            return x
        x, r, gain, cost, lam = x + step, r_new, cost - c_new, c_new, max(lam / 3.0, 1e-12)
        if gain <= tol * max(cost, 1e-30):
            break
    return x


def fit_theta(d: Design, layout: Layout) -> np.ndarray:
    log_actual = np.log(d.actual)

    def residuals(theta: np.ndarray) -> np.ndarray:
        data = np.log(predict(theta, layout, d)) - log_actual
        return np.concatenate([data, (theta - layout.mu) / layout.sigma])

    return levenberg_marquardt(residuals, layout.mu.copy())


def held_out(d: Design, layout: Layout, groups: list[str]) -> np.ndarray:
    """Prediction of every row by a fit that did not see any row of its group."""
    keys = np.array(groups)
    pred = np.full(len(d.rows), np.nan)
    for g in sorted(set(groups)):
        test = keys == g
        theta = fit_theta(d.subset(~test), layout)
        pred[test] = predict(theta, layout, d.subset(test))
    return pred


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties share their average rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def error_metrics(pred: np.ndarray, actual: np.ndarray) -> dict[str, float | int | None]:
    """Median absolute % error, share within +-25 %, Spearman rank correlation, ratio quantiles."""
    ok = np.isfinite(pred)
    pred, actual = pred[ok], actual[ok]
    if len(pred) == 0:
        return {"n": 0, "median_abs_pct": None, "within_25": None, "spearman": None, "ratio_p10": None, "ratio_p90": None}
    err = np.abs(pred - actual) / actual * 100.0
    ratio = pred / actual
    return {
        "n": int(len(pred)),
        "median_abs_pct": float(np.median(err)),
        "within_25": float(np.mean(err <= 25.0)),
        "spearman": spearman(pred, actual),
        "ratio_p10": float(np.quantile(ratio, 0.1)),
        "ratio_p90": float(np.quantile(ratio, 0.9)),
    }
