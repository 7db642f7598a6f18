"""Assemble report.json from a finished run and write report.json, report.md and report.html atomically.

The layout of report.json is described by edgekit/report/report.schema.json (JSON Schema); bump
REPORT_SCHEMA_VERSION and the schema together whenever a field changes meaning or disappears.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit import __version__
from edgekit.bench.host import host_fingerprint
from edgekit.fsutil import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from edgekit.matrix import Row
    from edgekit.pipeline import RunContext
    from edgekit.stages import Reference

REPORT_SCHEMA_VERSION = 1


def build_report(ctx: RunContext, source: Any, reference: Reference, rows: list[Row]) -> dict:
    """report.json as a dict: where the rows' typed step results become plain data (Row.to_dict)."""
    from edgekit.report.limits import profile_limits
    from edgekit.report.slow import mark_slow_modes

    return mark_slow_modes(
        {
            "schema_version": REPORT_SCHEMA_VERSION,
            "edgekit_version": __version__,
            "created_unix": int(time.time()),
            "recipe": {"name": ctx.recipe.name, "path": str(ctx.recipe_path), "hash": ctx.recipe_hash},
            "target": {
                "name": ctx.profile.name,
                "description": ctx.profile.description,
                "threads": ctx.threads,
                **profile_limits(ctx.profile),
            },
            "source": {
                "spec": source.spec,
                "canonical": source.canonical,
                "sha256": source.sha256,
                "notes": source.notes,
                "manifest": source.manifest,
            },
            "reference": {
                "path": "reference/saved_model",
                "key": reference.key,
                "test_accuracy": reference.accuracy,
                "classes": reference.class_names,
                "health": reference.health or None,
                "confusion_matrix": _confusion_matrix(ctx.run_dir),
            },
            "host": host_fingerprint(),
            "timings_s": {k: round(v, 3) for k, v in ctx.steps.timings.items()},
            "artifacts": [r.to_dict() for r in rows],
            **({"shard": ctx.shard} if ctx.shard else {}),
            # `convert MODEL`: what was converted and which inputs calibrated and checked it
            **({"model": ctx.model.describe()} if getattr(ctx, "model", None) is not None else {}),
        }
    )


def _confusion_matrix(run_dir: Path) -> dict | None:
    """The reference's confusion matrix on the test split, from the train step's evaluation.json."""
    try:
        return json.loads((run_dir / "train" / "evaluation.json").read_text()).get("confusion_matrix")
    except (OSError, ValueError):  # no training in this run folder, or an unreadable file: no matrix
        return None


def write_reports(report: dict, run_dir: Path) -> list[Path]:
    from edgekit.report.html import render_html
    from edgekit.report.markdown import render_markdown

    return [
        atomic_write_json(run_dir / "report.json", report),
        atomic_write_text(run_dir / "report.md", render_markdown(report)),
        atomic_write_text(run_dir / "report.html", render_html(report)),
    ]
