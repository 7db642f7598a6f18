"""The estimate step: the target's latency band, peak RAM and fit verdict per artifact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.errors import EdgekitError
from edgekit.matrix import Row
from edgekit.steps import progress

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext
    from edgekit.stages.train import Reference
    from edgekit.targets.analysis import GraphAnalysis
    from edgekit.targets.estimator import Estimate


def estimate_step(ctx: RunContext, reference: Reference, rows: list[Row]) -> None:
    """The target's latency band, peak RAM and fit verdict per artifact (edgekit/targets)."""
    ok = [r for r in rows if r.status == "ok"]
    with ctx.steps.step("estimate", ctx.profile.name) as note:
        analyses: dict[str, GraphAnalysis] = {}
        for row in ok:
            try:
                row.estimate = _estimate_one(ctx, reference, row, analyses)
            except EdgekitError as exc:  # an estimate that cannot be made is a note, not a failed artifact
                row.notes.append(f"no estimate: {exc.message}")
            for warning in row.estimate.warnings if row.estimate else []:
                progress(f"[yellow]{row.name} on {ctx.profile.name}[/]: {warning}")
        made = sum(1 for r in ok if r.estimate and r.estimate.latency_ms is not None)
        note(f"{made} of {len(ok)} artifact(s) estimated for {ctx.profile.name}")


def _analysis_graph(ctx: RunContext, reference: Reference) -> Path:
    """An fp32 TFLite graph of the reference, for plans without one (the browser's is tfjs only).
    It lives under analysis/, not artifacts/: it is an input to the estimate, not a deliverable."""
    from edgekit.convert.runner import ConvertJob, run_job

    folder = ctx.run_dir / "analysis" / "tflite-fp32"
    if not ctx.steps.is_done("analysis-graph", reference.key, [folder / ARTIFACT_JSON]):
        run_job(ConvertJob("tflite", "fp32", reference.folder, folder, {"analyze": False}))
        ctx.steps.mark_done("analysis-graph", reference.key)
    return Artifact.load(folder).path


def _estimate_one(ctx: RunContext, reference: Reference, row: Row, analyses: dict) -> Estimate:
    from edgekit.convert import FORMATS, target_runtime
    from edgekit.targets import analyze, estimate

    plugin = FORMATS.get(row.format)
    if plugin.analysis is not None:
        analysis = analyses[row.name] = analyze(row.artifact.path)
        return estimate(analysis, ctx.profile, quant=row.quant, threads=ctx.threads)
    if not plugin.estimated_from_tflite:
        raise EdgekitError(f"{plugin.display} has no graph reader to estimate from")
    # TF.js: estimated from the same reference's fp32 TFLite graph (see targets/estimator.py).
    base = analyses.get("tflite-fp32")
    if base is None:
        base = analyses["tflite-fp32"] = analyze(_analysis_graph(ctx, reference))
    runtime = target_runtime(row.format, ctx.profile.runtimes) or plugin.default_runtime
    return estimate(base, ctx.profile, quant="fp32", threads=ctx.threads, runtime=runtime)
