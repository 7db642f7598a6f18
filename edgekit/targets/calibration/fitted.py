"""Build fitted.json: the factors fitted on the published results, with their measured held-out error.

`edgekit targets fit` writes it from published_latency.csv, devices.yaml and model_features.json
(the files beside this module); the estimator only reads it (edgekit.targets.fitted). Every
figure in it comes from the fit or from cross-validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import UsageError
from edgekit.fsutil import atomic_write_json, sha256_file
from edgekit.targets.calibration import fit
from edgekit.targets.calibration.features import PACKAGE_FEATURES, load_features
from edgekit.targets.calibration.numerics import error_metrics
from edgekit.targets.calibration.published import (
    DEVICES_YAML,
    LATENCY_CSV,
    PACKAGE_CALIBRATION,
    DeviceSpec,
    load_published,
)
from edgekit.targets.fitted import FITTED_PATH, SCHEMA, load_fitted
from edgekit.targets.latency_model import COMPUTE_DTYPES, COMPUTE_TERMS, MEMORY_TERMS


def _factor(theta: np.ndarray, layout: fit.Layout, name: str) -> float:
    return math.exp(float(np.append(theta, 0.0)[layout.at(name)]))


def factors(theta: np.ndarray, layout: fit.Layout, d: fit.Design) -> dict[str, Any]:
    """The fitted parameters as named factors; only (family, dtype) pairs that had rows appear."""
    dtypes = [q for q in COMPUTE_DTYPES if f"par:{q}" in layout.index]
    t = np.append(theta, 0.0)
    families: dict[str, dict[str, float]] = {}
    for r in d.rows:
        families.setdefault(r.family, {})[r.dtype] = _factor(
            theta, layout, f"fam:{r.family}:{r.dtype}"
        ) * _factor(theta, layout, fit.group_param(r))
    devices = {}
    for key in sorted({r.device for r in d.rows}):
        rows = [r for r in d.rows if r.device == key]
        devices[key] = {
            "scale": _factor(theta, layout, f"dev:{key}"),
            "rows": len(rows),
            "sources": sorted({r.source for r in rows}),
            "dtypes": sorted({r.dtype for r in rows}),
        }
    return {
        "compute_cost": {
            q: {c: _factor(theta, layout, f"cls:{c}:{q}") for c in COMPUTE_TERMS} for q in dtypes
        },
        "memory_cost": {q: {m: _factor(theta, layout, f"mem:{m}:{q}") for m in MEMORY_TERMS} for q in dtypes},
        "parallel": {q: float(1.0 / (1.0 + math.exp(-t[layout.at(f"par:{q}")]))) for q in dtypes},
        "parallel_bandwidth_exponent": float(t[layout.at("parbw")]),
        "overhead_us": _factor(theta, layout, "ovh"),
        "os32": {q: _factor(theta, layout, f"os32:{q}") for q in dtypes},
        "dotprod": {q: _factor(theta, layout, "dot") if q == "int8" else 1.0 for q in dtypes},
        "families": {k: dict(sorted(v.items())) for k, v in sorted(families.items())},
        "devices": devices,
    }


def _band(ratios: np.ndarray) -> dict[str, float]:
    return {
        "ratio_p10": float(np.quantile(ratios, 0.1)),
        "ratio_p90": float(np.quantile(ratios, 0.9)),
        "n": int(len(ratios)),
    }


def held_out_section(d: fit.Design, preds: dict[str, np.ndarray]) -> dict[str, Any]:
    """Error figures per device and pooled, and the band each device's estimates carry."""
    pooled_ratios = np.concatenate([p / d.actual for p in preds.values()])
    out: dict[str, Any] = {
        "pooled": {k: error_metrics(p, d.actual) for k, p in preds.items()},
        "devices": {},
        "bands": {"pooled": {**_band(pooled_ratios), "from": "pooled"}},
    }
    for key in sorted({r.device for r in d.rows}):
        m = np.array([r.device == key for r in d.rows])
        out["devices"][key] = {k: error_metrics(p[m], d.actual[m]) for k, p in preds.items()}
        if m.sum() >= fit.BAND_MIN_ROWS:
            out["bands"][key] = {
                **_band(np.concatenate([p[m] / d.actual[m] for p in preds.values()])),
                "from": key,
            }
        else:
            out["bands"][key] = {**out["bands"]["pooled"], "from": "pooled"}
    # LOSO on the rows whose runtime family keeps another source in the fold: the case of the
    # estimates edgekit gives (LiteRT is the TFLite family, published by four sources). A source
    # that is its family's only one is predicted with that runtime never seen.
    family_sources: dict[str, set[str]] = {}
    for r in d.rows:
        family_sources.setdefault(r.family, set()).add(r.source)
    shared = np.array([len(family_sources[r.family]) > 1 for r in d.rows])
    out["pooled"]["loso_shared_family"] = error_metrics(preds["loso"][shared], d.actual[shared])
    out["pooled"]["loso_sole_family"] = {
        **error_metrics(preds["loso"][~shared], d.actual[~shared]),
        "sources": sorted({r.source for r, s in zip(d.rows, shared) if not s}),
    }
    # Where the error comes from: each source predicted with that source left out, each
    # architecture predicted with that architecture left out.
    for name, scheme, group in (
        ("sources", "loso", lambda r: r.source),
        ("architectures", "lomo", lambda r: fit.architecture(r.model)),
    ):
        keys = [group(r) for r in d.rows]
        out[name] = {
            k: error_metrics(
                preds[scheme][np.array([x == k for x in keys])], d.actual[np.array([x == k for x in keys])]
            )
            for k in sorted(set(keys))
        }
    return out


@dataclass
class PublishedFit:
    design: fit.Design
    layout: fit.Layout
    theta: np.ndarray
    skipped: int
    table: dict[str, Any]
    specs: dict[str, DeviceSpec]


def _require_rows(d: fit.Design, calibration: Path, features_path: Path, n_models: int) -> None:
    """Enough rows to fit, and to hold each source and each architecture out with something left."""
    sources = sorted({r.source for r in d.rows})
    architectures = sorted({fit.architecture(r.model) for r in d.rows})
    if len(d.rows) >= 10 and len(sources) > 1 and len(architectures) > 1:
        return
    raise UsageError(
        f"the {n_models} calibration model(s) in {features_path} have {len(d.rows)} usable published rows in "
        f"{calibration}, from source(s) {', '.join(sources) or '-'} and architecture(s) "
        f"{', '.join(architectures) or '-'}: a fit needs 10 rows, and held-out error needs two sources "
        "and two architectures",
        hint="build more calibration models: `edgekit targets evaluate` without --models builds all of them",
    )


def fit_published(
    calibration: Path = PACKAGE_CALIBRATION, features_path: Path = PACKAGE_FEATURES
) -> PublishedFit:
    """Fit on every usable published row (no cross-validation)."""
    features = load_features(features_path)
    cal = load_published(calibration, models={m for m, _ in features})
    d = fit.make_design(cal.rows, features, cal.devices, cal.table.get("winograd", {}))
    _require_rows(d, calibration, features_path, len({m for m, _ in features}))
    layout = fit.make_layout(d.rows)
    return PublishedFit(d, layout, fit.fit_theta(d, layout), len(cal.skipped), cal.table, cal.devices)


def estimate_arithmetic(table: dict[str, Any]) -> dict[str, str]:
    """Per edgekit runtime, the arithmetic its estimate family was fitted with (devices.yaml)."""
    by_family = table.get("arithmetic", {}).get("families", {})
    return {
        runtime: str(by_family.get(family, "simd"))
        for runtime, family in table.get("estimate_families", {}).items()
    }


def build_fitted(
    calibration: Path = PACKAGE_CALIBRATION, features_path: Path = PACKAGE_FEATURES
) -> dict[str, Any]:
    """Fit on every usable published row, cross-validate, and return fitted.json's content."""
    pf = fit_published(calibration, features_path)
    d = pf.design
    devices_yaml = Path(calibration) / DEVICES_YAML
    inputs = [
        Path(calibration) / LATENCY_CSV,
        Path(features_path),
        devices_yaml if devices_yaml.is_file() else PACKAGE_CALIBRATION / DEVICES_YAML,
    ]
    return {
        "schema": SCHEMA,
        "generated_by": "edgekit targets fit",
        "inputs": {p.name: sha256_file(p) for p in inputs},
        "rows": {"used": len(d.rows), "skipped": pf.skipped},
        "priors": {k: {"center": c, "sigma": s} for k, (c, s) in fit.PRIORS.items()},
        "reference_family": fit.REFERENCE_FAMILY,
        "estimate_families": dict(pf.table.get("estimate_families", {})),
        "estimate_arithmetic": estimate_arithmetic(pf.table),
        "factors": factors(pf.theta, pf.layout, d),
        "device_specs": {k: vars(v) for k, v in sorted(pf.specs.items())},
        "training": error_metrics(fit.predict(pf.theta, pf.layout, d), d.actual),
        "held_out": held_out_section(d, fit.cross_validate(d, pf.layout)),
    }


def write_fitted(data: dict[str, Any], out: Path = FITTED_PATH) -> Path:
    load_fitted.cache_clear()
    return atomic_write_json(out, data)
