"""Parity: how far an artifact's outputs are from the reference's on the same inputs, and a verdict.

Thresholds are data, per quant mode (PARITY_THRESHOLDS), overridable from the recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.results import ParityResult

# pass: every bound holds; warn: top-1 agreement still ≥ warn_top1; fail: below it.
PARITY_THRESHOLDS: dict[str, dict[str, float]] = {
    "fp32": {"min_top1": 0.99, "warn_top1": 0.97, "max_abs": 1e-3, "min_cosine": 0.9999},
    "fp16": {"min_top1": 0.98, "warn_top1": 0.95, "max_abs": 2e-2, "min_cosine": 0.999},
    "dynamic-int8": {"min_top1": 0.95, "warn_top1": 0.85, "max_abs": 0.15, "min_cosine": 0.99},
    "int8": {"min_top1": 0.90, "warn_top1": 0.80, "max_abs": 0.25, "min_cosine": 0.98},
    "int16x8": {"min_top1": 0.95, "warn_top1": 0.85, "max_abs": 0.1, "min_cosine": 0.995},
    "uint8": {"min_top1": 0.95, "warn_top1": 0.85, "max_abs": 0.15, "min_cosine": 0.99},
    "uint16": {"min_top1": 0.98, "warn_top1": 0.95, "max_abs": 2e-2, "min_cosine": 0.999},
}


# compare()'s result is the row's parity result; the name Parity is kept for callers of compare().
Parity = ParityResult


def compare(
    reference: np.ndarray,
    candidate: np.ndarray,
    labels: np.ndarray | None,
    quant: str,
    thresholds: Mapping[Any, float] | None = None,  # keys: min_top1, warn_top1, max_abs, min_cosine
) -> Parity:
    ref, out = reference.astype(np.float64), candidate.astype(np.float64)
    if ref.shape != out.shape:
        return _unusable(len(ref), f"output shape {out.shape} differs from the reference's {ref.shape}")
    if not np.isfinite(out).all():
        # every comparison with NaN is false and argmax(NaN) is 0: without this check an artifact
        # whose outputs are all NaN would pass on every threshold
        bad = int(np.count_nonzero(~np.isfinite(out)))
        return _unusable(len(ref), f"{bad} of {out.size} output values are NaN or infinite")
    err = np.abs(ref - out)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    cosine = float(np.mean(np.sum(ref * out, axis=1) / np.maximum(norms, 1e-12)))
    top1 = float(np.mean(ref.argmax(1) == out.argmax(1)))
    acc = ref_acc = None
    if labels is not None:
        acc, ref_acc = float(np.mean(out.argmax(1) == labels)), float(np.mean(ref.argmax(1) == labels))
    limits = {**PARITY_THRESHOLDS.get(quant, PARITY_THRESHOLDS["int8"]), **(thresholds or {})}
    verdict, reasons = _verdict(cosine, float(err.max()), top1, limits)
    return Parity(len(ref), cosine, float(err.max()), float(err.mean()), top1, acc, ref_acc, verdict, reasons)


def _unusable(n: int, reason: str) -> Parity:
    """A failed comparison whose outputs cannot be measured against the reference at all."""
    return Parity(n, 0.0, float("inf"), float("inf"), 0.0, None, None, "fail", [reason])


def _verdict(cosine: float, max_abs: float, top1: float, limits: dict[str, float]) -> tuple[str, list[str]]:
    reasons = []
    if top1 < limits["min_top1"]:
        reasons.append(f"top-1 agreement {top1:.3f} < {limits['min_top1']}")
    if max_abs > limits["max_abs"]:
        reasons.append(f"max |err| {max_abs:.3g} > {limits['max_abs']}")
    if cosine < limits["min_cosine"]:
        reasons.append(f"cosine {cosine:.5f} < {limits['min_cosine']}")
    if not reasons:
        return "pass", []
    return ("fail" if top1 < limits["warn_top1"] else "warn"), reasons
