"""Reuse across targets: a step whose inputs equal those of another target's finished step.

A recipe converted for several targets writes one run folder per target (out/<recipe>/<target>/).
Training and conversion do not depend on the target, only on their inputs (their step keys), so
before doing one of them a run looks for a sibling run folder of the same recipe whose step record
has the same key and whose outputs are still there, and takes those outputs as hard links (the
same bytes on disk, no copy; a plain copy across file systems). Every later write replaces files
by rename, never in place, so linked files are never changed under another run. The step record
says where the outputs came from (`reused_from`), or that this run made them (`made_here`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from edgekit.fsutil import atomic_dir


def sibling_with(run_dir: Path, record: str, key: str, outputs: list[str]) -> Path | None:
    """Another run folder beside RUN_DIR whose step RECORD finished with KEY and still has OUTPUTS."""
    parent = run_dir.parent
    if not parent.is_dir():
        return None
    for other in sorted(parent.iterdir()):
        if other == run_dir or not other.is_dir() or other.name.startswith("."):
            continue
        try:
            data = json.loads((other / "steps" / f"{record}.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("key") == key and all((other / o).exists() for o in outputs):
            return other
    return None


def link_tree(src: Path, dst: Path) -> None:
    """Make DST a copy of the folder SRC made of hard links; replaces DST atomically."""
    with atomic_dir(dst) as tmp:
        for path in sorted(src.rglob("*")):
            target = tmp / path.relative_to(src)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:  # another file system, or links not allowed
                shutil.copy2(path, target)
