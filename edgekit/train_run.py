"""`edgekit train RECIPE`: the source, data and train steps of a convert run, and nothing after.

It sits beside pipeline.py (which runs `edgekit convert`), not inside edgekit/train/, which stays
a library of data, model and training code that knows nothing of runs. The run folder is the one
`edgekit convert` uses for the same recipe and target, so a later convert reuses this training
when the recipe's train/data sections, the source and the data have not changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from edgekit.pipeline import ConvertOptions, RunContext
    from edgekit.stages import Reference

EPILOG = """Examples:\n\n
  edgekit train                                    # bundled demo recipe\n
  edgekit train my.yaml --out out/                 # your recipe\n
  edgekit train my.yaml --set train.epochs=10 --set train.fine_tune.unfreeze=20\n
  edgekit train my.yaml --set train.mixed_precision=on --set train.jit_compile=true\n"""


def register(app: typer.Typer) -> None:
    app.command(name="train", epilog=EPILOG)(train)


def train(
    recipe: Path | None = typer.Argument(
        None, help="Recipe YAML. Default: ./edgekit.yaml if present, else the bundled demo."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output root. Default: the recipe's output.dir (out/)."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a recipe field: --set train.epochs=2 (repeatable)."
    ),
    target: str = typer.Option(
        "host", "--target", "-t", help="The target whose run folder receives the training (as convert)."
    ),
    force: bool = typer.Option(False, "--force", help="Train again even when the inputs have not changed."),
) -> None:
    """Fine-tune the recipe's backbone on its data; writes <run>/reference/ and <run>/train/."""
    from edgekit.console import console
    from edgekit.pipeline import ConvertOptions
    from edgekit.recipe import find_recipe
    from edgekit.setup.extras import require_extra

    require_extra("tf", "edgekit train")
    recipe_path, how = find_recipe(recipe)
    console.print(f"recipe: {recipe_path} ({how})")
    ctx, reference = run_training(
        ConvertOptions(recipe_path=recipe_path, target=target, out=out, overrides=overrides, force=force)
    )
    console.print(
        f"reference: {reference.folder}\ntraining logs: {ctx.run_dir / 'train'}  "
        f"(test accuracy {reference.accuracy:.3f})"
    )


def run_training(options: ConvertOptions) -> tuple[RunContext, Reference]:
    """Open the run as convert would and run its source, data and train steps (each reused when unchanged)."""
    from edgekit import stages
    from edgekit.pipeline import open_run

    ctx = open_run(options)
    source = stages.resolve_source_step(ctx)
    data = stages.data_step(ctx, source)
    return ctx, stages.train_step(ctx, source, data)
