"""The source step: the recipe's model handle resolved to a local model (edgekit/sources)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext


def resolve_source_step(ctx: RunContext):
    from edgekit.sources import SourceSettings, resolve_source

    s = ctx.recipe.source
    with ctx.steps.step("source", s.handle) as note:
        settings = SourceSettings.from_recipe(s, ctx.recipe_path.parent)
        source = resolve_source(s.handle, settings, base_dir=ctx.recipe_path.parent)
        h, w = source.info.input_size
        note(f"{source.canonical}  input {h}x{w}, sha256 {source.sha256[:12]}…")
    return source
