"""`--shard K/N`: a deterministic split of a run's matrix across CI jobs or machines.

The matrix of one recipe is every (target, format, quant mode) cell of the targets' plans, in the
order the targets were given and each plan lists them. Cell i (counting from 0) belongs to shard
(i mod N) + 1, so shards are balanced and every shard computes the same split on its own. Each
shard's report records the target's whole plan and its own cells, so `edgekit report merge` can
rebuild the unsharded report and `edgekit check` can tell a cell another shard ran from a row
that went missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgekit.errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def owns(self, position: int) -> bool:
        return position % self.count == self.index - 1


def parse_shard(text: str) -> Shard:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise UsageError(f"--shard must look like K/N (e.g. 2/4), got {text!r}")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise UsageError(
            f"--shard {text}: K must be between 1 and N, and N at least 1",
            hint="shards are 1/N, 2/N, ..., N/N",
        )
    return Shard(k, n)


def plan_cells(targets: list[str], formats: list[str], quants: list[str]) -> list[tuple[str, str, str]]:
    """Every (target, format, quant) cell that the unsharded run would convert, in matrix order."""
    from edgekit.matrix import plan_combinations
    from edgekit.targets.profile import resolve_target

    cells = []
    for target in targets:
        rows = plan_combinations(resolve_target(target), formats, quants)
        cells += [(target, r.format, r.quant) for r in rows if r.status == "pending"]
    return cells


def split(cells: list[tuple[str, str, str]], shard: Shard) -> dict[str, list[tuple[str, str]]]:
    """This shard's cells, grouped by target (targets with none are left out)."""
    mine: dict[str, list[tuple[str, str]]] = {}
    for position, (target, fmt, quant) in enumerate(cells):
        if shard.owns(position):
            mine.setdefault(target, []).append((fmt, quant))
    return mine
