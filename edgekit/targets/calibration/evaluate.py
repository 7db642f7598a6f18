"""`edgekit targets evaluate`: build the calibration models, fit, and report the held-out error.

Steps: convert each calibration model to TFLite fp32 and int8 (cached), analyse each graph,
check its MAC count against the published one, fit the latency model on the published device
results and cross-validate it (leave-one-source-out, leave-one-model-out). One model that fails
to convert becomes a row with its reason, not the end of the run.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.targets.analysis import analyze
from edgekit.targets.calibration import features as feats
from edgekit.targets.calibration import zoo
from edgekit.targets.calibration.fitted import build_fitted
from edgekit.targets.calibration.published import PACKAGE_CALIBRATION

DTYPES = ("fp32", "int8")
GOAL_PCT = 20.0


@dataclass
class Evaluation:
    fitted: dict[str, Any]
    mac_checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    features_path: Path | None = None
    profiles: dict[str, list[str]] = field(default_factory=dict)  # calibration device -> profile names

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal_median_abs_pct": GOAL_PCT,
            "mac_checks": self.mac_checks,
            "failures": self.failures,
            "features": str(self.features_path),
            "profiles": self.profiles,
            "rows": self.fitted["rows"],
            "training": self.fitted["training"],
            "held_out": self.fitted["held_out"],
        }


def published_macs(calibration: Path) -> dict[str, float]:
    path = calibration / "model_macs.csv"
    if not path.is_file():
        path = PACKAGE_CALIBRATION / "model_macs.csv"
    with path.open(newline="") as fh:
        return {f"{r['model']}".strip(): float(r["macs_millions"]) for r in csv.DictReader(fh)}


def build_features(
    models: list[zoo.ZooModel], cache: Path, calibration: Path, progress: Callable[[str], None]
) -> tuple[dict, list[dict], list[dict]]:
    """Convert and analyse each model; returns (feature entries, MAC checks, failures)."""
    entries: dict[str, dict[str, Any]] = {}
    checks, failures = [], []
    published = published_macs(calibration)
    for model in models:
        for dtype in DTYPES:
            progress(f"{model.key} {dtype}")
            try:
                analysis = analyze(zoo.converted(model, dtype, cache))
            except EdgekitError as exc:
                failures.append({"model": model.key, "dtype": dtype, "reason": exc.message})
                continue
            entries.setdefault(model.key, {})[dtype] = feats.entry(analysis)
            if dtype == "fp32" and model.macs_name in published:
                ours, theirs = analysis.total_macs / 1e6, published[model.macs_name]
                checks.append(
                    {
                        "model": model.key,
                        "published_as": model.macs_name,
                        "macs_m": round(ours, 1),
                        "published_macs_m": theirs,
                        "diff_pct": round((ours - theirs) / theirs * 100, 1),
                    }
                )
    return entries, checks, failures


def profiles_by_device() -> dict[str, list[str]]:
    from edgekit.targets.profile import builtin_targets

    out: dict[str, list[str]] = {}
    for e in builtin_targets():
        if e.value.calibration.device:
            out.setdefault(e.value.calibration.device, []).append(e.name)
    return out


def features_path(cache: Path, patterns: list[str] | None) -> Path:
    """Where the features of this run go. A run on some models only writes its own file, so the
    full set (the one to copy into the package for a refit) is never replaced by a subset."""
    return cache / ("model_features-selected.json" if patterns else "model_features.json")


def evaluate(
    patterns: list[str] | None,
    cache: Path,
    calibration: Path = PACKAGE_CALIBRATION,
    progress: Callable[[str], None] = lambda _: None,
) -> Evaluation:
    models = zoo.select(patterns)
    entries, checks, failures = build_features(models, cache, calibration, progress)
    path = feats.save_features(features_path(cache, patterns), entries)
    progress("fitting and cross-validating")
    fitted = build_fitted(calibration, path)
    return Evaluation(fitted, checks, failures, path, profiles_by_device())
