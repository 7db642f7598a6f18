"""The convert step: each pending row's artifact made from the reference (in worker processes, through
the executor), or reused from this run or another target's."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgekit import __version__
from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.fsutil import atomic_write_text
from edgekit.matrix import Row
from edgekit.reuse import link_tree
from edgekit.stages.common import _sibling
from edgekit.steps import input_key, progress

if TYPE_CHECKING:
    from edgekit.convert.runner import ConvertJob
    from edgekit.pipeline import RunContext
    from edgekit.stages.data import PreparedData
    from edgekit.stages.train import Reference


def convert_step(ctx: RunContext, reference: Reference, data: PreparedData, rows: list[Row]) -> list[Row]:
    from edgekit.convert.memory import parse_memory_limit

    todo = [r for r in rows if r.status == "pending"]
    with ctx.steps.step("convert", f"{len(todo)} artifact(s)") as note:
        jobs = {}
        for row in todo:
            key, final = _conversion_key(ctx, reference, data, row), _artifact_folder(ctx, row)
            record = f"convert-{row.name}"
            if ctx.steps.is_done(record, key, [final / ARTIFACT_JSON]):
                row.artifact, row.status = Artifact.load(final), "ok"
                row.notes.append("unchanged, reused")
            elif (
                sibling := _sibling(ctx, record, key, [f"artifacts/{row.name}/{ARTIFACT_JSON}"])
            ) is not None:
                # converted for another target from the same reference and settings
                link_tree(sibling / "artifacts" / row.name, final)
                row.artifact, row.status = Artifact.load(final), "ok"
                ctx.steps.mark_done(record, key, {"reused_from": sibling.name})
                row.notes.append(f"same as {sibling.name}'s, reused")
            else:
                jobs[row.name] = (row, _conversion_job(ctx, reference, data, row), key)

        done: list[str] = []

        def finished(outcome) -> None:
            row, _, key = jobs[f"{outcome.job.format}-{outcome.job.quant}"]
            done.append(row.name)
            if outcome.artifact is not None:
                row.artifact, row.status = outcome.artifact, "ok"
                measured = {"seconds": outcome.seconds, "peak_rss_bytes": outcome.peak_rss_bytes}
                ctx.steps.mark_done(f"convert-{row.name}", key, {"made_here": True, **measured})
                progress(f"[{len(done)}/{len(jobs)}] {row.name} converted")
                return
            row.fail(outcome.error)
            if outcome.trace:
                atomic_write_text(ctx.run_dir / "logs" / f"{row.name}.txt", outcome.trace)
            progress(f"[{len(done)}/{len(jobs)}] [red]{row.name} failed[/]: {row.error}")

        ctx.executor.convert(
            [job for _, job, _ in jobs.values()],
            ctx.recipe.convert.parallel,
            finished,
            parse_memory_limit(ctx.recipe.convert.memory_limit),
        )
        ok = sum(r.status == "ok" for r in todo)
        shared = sum(any(n.endswith("'s, reused") for n in r.notes) for r in todo)
        note(
            f"{ok} of {len(todo)} converted"
            + (f" ({shared} shared with another target)" if shared else "")
            + ("" if ok == len(todo) else f", {len(todo) - ok} failed")
        )
    return rows


def _conversion_key(ctx: RunContext, reference: Reference, data: PreparedData, row: Row) -> str:
    options = ctx.recipe.convert.options_for(row.format)
    return input_key(reference.key, row.format, row.quant, options, data.calibration_key, __version__)


def _artifact_folder(ctx: RunContext, row: Row) -> Path:
    return ctx.run_dir / "artifacts" / row.name


def _conversion_job(ctx: RunContext, reference: Reference, data: PreparedData, row: Row) -> ConvertJob:
    from edgekit.convert.runner import ConvertJob

    return ConvertJob(
        row.format,
        row.quant,
        reference.folder,
        _artifact_folder(ctx, row),
        ctx.recipe.convert.options_for(row.format),
        data.calibration,  # preprocessed here, the first time a conversion needs it
        _artifact_metadata(ctx, reference, data),
    )


def _artifact_metadata(ctx: RunContext, reference: Reference, data: PreparedData) -> dict:
    return {
        "labels": reference.class_names,
        "preprocessing": {
            "input_size": list(data.preproc.input_size),
            "value_range": list(data.preproc.value_range),
            "resize": data.preproc.resize,
        },
        "input": {"name": "image", "shape": [1, *data.preproc.input_shape], "dtype": "float32"},
        "edgekit_version": __version__,
        "recipe": ctx.recipe.name,
    }
