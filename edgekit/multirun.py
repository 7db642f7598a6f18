"""`edgekit convert --target a,b,c`: one recipe for several targets in one command.

Each target gets its own run folder and report exactly as a single-target run writes them; the
targets run one after another, and training and conversion happen once: the second and later
targets take the reference and every shared artifact from the first (edgekit/reuse.py), while
bench and estimate run per target. At the end, out/<recipe>/targets.{json,md} holds a
cross-target table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from edgekit.console import err_console
from edgekit.pipeline import ConvertOptions, RunResult, planned_rows, require_converters, run_convert
from edgekit.shard import Shard, plan_cells, split

ALL = "all"


def expand_targets(values: list[str]) -> list[str]:
    """--target values (repeatable, comma-separated, `all`) → distinct target names, in order given."""
    from edgekit.errors import UsageError
    from edgekit.targets.profile import builtin_targets, resolve_target

    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not names:
        raise UsageError(
            "--target is empty", hint="give a profile name, several separated by commas, or `all`"
        )
    if any(n.lower() == ALL for n in names):
        return [entry.name for entry in builtin_targets()]
    seen: dict[str, str] = {}
    for name in names:
        profile = resolve_target(name)  # an unknown name is a usage error with a did-you-mean
        seen.setdefault(profile.name, name)
    return list(seen.values())


@dataclass
class MultiRunResult:
    results: list[RunResult]
    table: Path

    @property
    def exit_code(self) -> int:
        return max(r.exit_code for r in self.results)


def preflight(opts: ConvertOptions, plans: dict[str, dict]) -> None:
    """Every target's converters are installed before the first target starts (else exit 2, nothing run)."""
    from edgekit.targets.profile import resolve_target

    for target, changes in plans.items():
        require_converters(
            planned_rows(resolve_target(target), dataclasses.replace(opts, target=target, **changes))
        )


def run_convert_many(opts: ConvertOptions, targets: list[str]) -> MultiRunResult:
    return _run_targets(opts, {target: {} for target in targets})


def run_shard(opts: ConvertOptions, targets: list[str], shard: Shard) -> MultiRunResult | None:
    """Run this shard's cells of the (target, format, quant) matrix; None when it has none."""
    cells = plan_cells(targets, opts.formats, opts.quants)
    mine = split(cells, shard)
    err_console.print(
        f"shard {shard.index}/{shard.count}: {sum(map(len, mine.values()))} of {len(cells)} cell(s)"
    )
    if not mine:
        return None
    return _run_targets(
        opts,
        {
            target: {
                "only": own,
                "shard": {
                    "index": shard.index,
                    "count": shard.count,
                    "planned": [[f, q] for t, f, q in cells if t == target],
                    "cells": [list(c) for c in own],
                },
            }
            for target, own in mine.items()
        },
    )


def _run_targets(opts: ConvertOptions, plans: dict[str, dict]) -> MultiRunResult:
    """Run each target with its changes to OPTS, one after another; then the cross-target table."""
    from edgekit.report.cross_target import write_cross_target

    preflight(opts, plans)
    results = []
    for i, (target, changes) in enumerate(plans.items(), 1):
        err_console.rule(f"[bold]target {i}/{len(plans)}: {target}[/]")
        results.append(run_convert(dataclasses.replace(opts, target=target, **changes)))
    table = write_cross_target(results[0].run_dir.parent, [(r.run_dir.name, r.report) for r in results])
    err_console.print(f"cross-target table: {table} (and {table.with_suffix('.json').name})")
    return MultiRunResult(results, table)
