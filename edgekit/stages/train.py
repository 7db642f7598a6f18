"""The train step: fine-tune the source on the data and export the reference model (Reference),
or reuse this run's or another target's training on the same inputs."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit import __version__
from edgekit.fsutil import atomic_write_json
from edgekit.reuse import link_tree
from edgekit.stages.common import _sibling
from edgekit.steps import input_key, progress

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext
    from edgekit.stages.data import PreparedData


@dataclass
class Reference:
    folder: Path
    key: str
    accuracy: float | None  # None: a given model with no labelled data to measure it on
    class_names: list[str]
    health: dict = field(default_factory=dict)  # train/evaluate.py chance_check: does it beat chance?


# What another target's training must still have for this run to take it (relative to its run folder).
_TRAIN_OUTPUTS = ["reference/saved_model/saved_model.pb", "reference/train.json", "train/evaluation.json"]


def train_step(ctx: RunContext, source, data: PreparedData) -> Reference:
    from edgekit.train.evaluate import chance_check, loss_curve

    folder = ctx.run_dir / "reference"
    key = input_key(
        ctx.recipe.section_dict("train"),
        ctx.recipe.section_dict("data"),
        source.sha256,
        data.fingerprint,
        data.preproc,
        __version__,
    )
    with ctx.steps.step("train", "fine-tuning") as note:
        outputs = [
            folder / "saved_model" / "saved_model.pb",
            folder / "train.json",
            ctx.run_dir / "train" / "evaluation.json",
        ]
        if ctx.steps.is_done("train", key, outputs):
            summary = json.loads((folder / "train.json").read_text())
            text = f"unchanged, reused: test accuracy {summary['test_accuracy']:.3f}"
        elif (
            sibling := _sibling(ctx, "train", key, _TRAIN_OUTPUTS)
        ) is not None:  # another target trained on the same inputs
            link_tree(sibling / "reference", folder)
            link_tree(sibling / "train", ctx.run_dir / "train")
            summary = json.loads((folder / "train.json").read_text())
            ctx.steps.mark_done("train", key, {"reused_from": sibling.name})
            text = f"same inputs as {sibling.name}, reused: test accuracy {summary['test_accuracy']:.3f}"
        else:
            summary = _train_and_export(ctx, source, data, folder)
            ctx.steps.mark_done("train", key, {"made_here": True})
            text = (
                f"test accuracy {summary['test_accuracy']:.3f} on {summary['test_images']} images "
                f"(chance {1 / len(summary['class_names']):.3f})"
            )
        # Judged on every run, reused or not: a reference that learned nothing must never look done.
        health = chance_check(
            summary["test_accuracy"],
            data.splits.test.labels,
            len(summary["class_names"]),
            loss_curve(summary.get("phases", [])),
        )
        note(text + ("  [bold red]⚠ not clearly better than chance[/]" if health["flags"] else ""))
    for flag in health["flags"]:
        progress(f"[bold yellow]warning[/]: {flag}")
    return Reference(folder, key, summary["test_accuracy"], summary["class_names"], health)


def _train_and_export(ctx: RunContext, source, data: PreparedData, folder: Path) -> dict:
    """Fine-tune, evaluate, export. Training artifacts go to <run>/train/, the reference to FOLDER."""
    from edgekit.train.engine import train_classifier
    from edgekit.train.evaluate import evaluate, write_evaluation
    from edgekit.train.export import export_reference

    workdir = ctx.run_dir / "train"
    shutil.rmtree(workdir, ignore_errors=True)  # a rerun's logs and checkpoints must not mix with stale ones
    names = data.splits.train.class_names
    trained = train_classifier(source.path, data.splits, data.preproc, ctx.recipe.train, progress, workdir)
    evaluation = evaluate(trained.test_probabilities, data.splits.test.labels, names)
    write_evaluation(evaluation, workdir)
    export_reference(trained.model, folder, data.preproc, names)
    summary = {
        "test_accuracy": evaluation["accuracy"],
        "test_images": data.test_count,
        "class_names": list(names),
        "placement": trained.placement.__dict__,
        "source": source.to_dict(),
        **trained.result.to_dict(),
    }
    atomic_write_json(folder / "train.json", summary)
    return summary
