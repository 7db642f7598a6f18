"""Small numerical tools the fits share: Levenberg-Marquardt, rank correlation, error figures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _jacobian(
    fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, r: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    cols = []
    for i in range(x.size):
        xh = x.copy()
        xh[i] += h
        cols.append((fun(xh) - r) / h)
    return np.stack(cols, axis=1)


def levenberg_marquardt(
    fun: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, iters: int = 300, tol: float = 1e-12
) -> np.ndarray:
    """Minimize |fun(x)|^2 with damped Gauss-Newton steps; the damping adapts to each step's success."""
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
            return x  # no step lowers the cost: at a minimum within numerical precision
        x, r, gain, cost, lam = x + step, r_new, cost - c_new, c_new, max(lam / 3.0, 1e-12)
        if gain <= tol * max(cost, 1e-30):
            break
    return x


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties share their average rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation; None for fewer than 3 points or a constant side."""
    if len(a) < 3:
        return None
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def error_metrics(pred: np.ndarray, actual: np.ndarray) -> dict[str, float | int | None]:
    """Median absolute % error, share within +-25 %, Spearman, and quantiles of predicted/actual."""
    pred, actual = np.asarray(pred, float), np.asarray(actual, float)
    ok = np.isfinite(pred)
    pred, actual = pred[ok], actual[ok]
    if len(pred) == 0:
        return {
            "n": 0,
            "median_abs_pct": None,
            "within_25": None,
            "spearman": None,
            "ratio_p10": None,
            "ratio_p90": None,
        }
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
