"""What more than one step uses: another target's finished work to reuse, and the target's own
runtime for a format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.reuse import sibling_with

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext


def _sibling(ctx: RunContext, record: str, key: str, outputs: list[str]) -> Path | None:
    """Another target's run folder that finished RECORD with KEY (never with --force)."""
    return None if ctx.steps.force else sibling_with(ctx.run_dir, record, key, outputs)


def _host_runtime(profile, fmt: str) -> str | None:
    """The target's own runtime for FORMAT when it names one (the browser target measures TF.js
    in headless Chromium, not Node); None lets the format's default runtime run it."""
    from edgekit.runtimes import RUNTIMES

    for name in profile.runtimes:
        if name in RUNTIMES and fmt in RUNTIMES.get(name).formats:
            return RUNTIMES.canonical(name)
    return None
