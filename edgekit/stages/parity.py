"""The parity step: each artifact's outputs compared with the reference's on held-out images."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from edgekit import __version__
from edgekit.errors import EdgekitError
from edgekit.matrix import Row
from edgekit.results import ParityResult
from edgekit.stages.common import _host_runtime, _sibling
from edgekit.steps import input_key, progress

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext
    from edgekit.stages.data import PreparedData
    from edgekit.stages.train import Reference


def parity_step(ctx: RunContext, reference: Reference, data: PreparedData, rows: list[Row]) -> None:
    from edgekit.runtimes.reference import ReferenceModel

    ok = [r for r in rows if r.status == "ok"]
    n = min(data.test_count, ctx.recipe.parity.max_samples)
    with ctx.steps.step("parity", f"{len(ok)} artifact(s) on {n} {data.parity_inputs}") as note:
        keys = {r.name: _parity_key(ctx, reference, data, r, n) for r in ok}
        todo = [r for r in ok if not _reuse_parity(ctx, r, keys[r.name])]
        labels = data.splits.test.labels  # None: unlabelled parity images (a run from a trained model)
        labels = None if labels is None else labels[:n]
        x = data.x_test[:n] if todo else np.empty((0,), np.float32)  # preprocessed only when needed
        ref_out = ReferenceModel(reference.folder).predict(x) if todo else np.empty((0,), np.float32)
        for row in todo:
            try:
                parity = row.parity = _check_one(ctx, row, ref_out, x, labels)
                if "tflite-micro" in ctx.profile.runtimes:  # the firmware's runtime: its own parity row
                    from edgekit.runtimes.tflm import add_micro_parity

                    add_micro_parity(row, x, ctx.threads)
                if not parity.passed and row.format == "tflite" and row.quant == "int8":
                    parity.worst_layers = _worst_layers(reference, data)
                ctx.steps.mark_done(f"parity-{row.name}", keys[row.name], {"parity": parity.to_dict()})
            except EdgekitError as exc:
                row.fail(exc)
        verdicts = [r.parity.verdict for r in ok if r.parity]
        reused = f"; {len(ok) - len(todo)} unchanged, reused" if len(todo) < len(ok) else ""
        note(
            (
                ", ".join(f"{v} {verdicts.count(v)}" for v in ("pass", "warn", "fail") if v in verdicts)
                or "nothing to check"
            )
            + reused
        )


def _parity_key(ctx: RunContext, reference: Reference, data: PreparedData, row: Row, n: int) -> str:
    """Everything a parity result depends on: the two models, the images, the thresholds, the runtimes."""
    thresholds = ctx.recipe.parity.thresholds.get(row.quant)
    return input_key(
        reference.key,
        row.artifact.sha256,
        data.fingerprint,
        n,
        ctx.threads,
        _host_runtime(ctx.profile, row.format),
        sorted(ctx.profile.runtimes),
        thresholds,
        __version__,
    )


def _reuse_parity(ctx: RunContext, row: Row, key: str) -> bool:
    """This run's recorded result for KEY, else another target's with the same key (same threads and runtimes)."""
    name = f"parity-{row.name}"
    record = ctx.steps.recorded(name, key)
    sibling = None if record is not None else _sibling(ctx, name, key, [])
    if sibling is not None:
        record = json.loads((sibling / "steps" / f"{name}.json").read_text())
        ctx.steps.mark_done(name, key, {"parity": record.get("parity"), "reused_from": sibling.name})
    if record is None or not isinstance(record.get("parity"), dict):
        return False
    try:
        row.parity = ParityResult.from_dict(record["parity"])
    except (KeyError, TypeError, ValueError):  # recorded by another version: checked again
        return False
    return True


def _check_one(
    ctx: RunContext, row: Row, ref_out: np.ndarray, x: np.ndarray, labels: np.ndarray
) -> ParityResult:
    from edgekit.convert.parity import compare
    from edgekit.runtimes import load_session

    session = load_session(row.artifact, ctx.threads, _host_runtime(ctx.profile, row.format))
    try:
        thresholds = ctx.recipe.parity.thresholds.get(row.quant)
        return compare(ref_out, session.predict(x), labels, row.quant, thresholds)
    finally:
        session.close()


def _worst_layers(reference: Reference, data: PreparedData) -> list[dict]:
    """Per-layer int8 error, shown when parity is not a clean pass (see convert/tflite_debug.py)."""
    from edgekit.convert.tflite_debug import layer_errors

    progress("int8 parity is not a pass: attributing the error to layers")
    return layer_errors(reference.folder, data.calibration, data.x_test[:16])
