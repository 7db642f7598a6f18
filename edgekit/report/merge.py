"""`edgekit report merge REPORT...`: the shards' reports of one run joined into the unsharded report."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import EdgekitError, UsageError
from edgekit.report.carry import EARLIER


def merge_reports(reports: list[tuple[str, dict]]) -> dict[str, dict]:
    """Reports (label, report.json) of shards → one report per target, rows in plan order."""
    by_target: dict[str, list[tuple[str, dict]]] = {}
    for label, report in reports:
        by_target.setdefault(report["target"]["name"], []).append((label, report))
    return {target: _merge_one(target, group) for target, group in by_target.items()}


def _merge_one(target: str, group: list[tuple[str, dict]]) -> dict:
    first_label, first = group[0]
    for label, report in group[1:]:
        for field in ("recipe", "reference"):
            mine, theirs = _identity(first, field), _identity(report, field)
            if mine != theirs:
                raise UsageError(
                    f"{label} and {first_label} are reports of different runs of {target} ({field} differs: {theirs} vs {mine})",
                    hint="merge the shards of one run: the same recipe, data and edgekit version",
                )
    rows: dict[tuple[str, str], dict] = {}
    planned: list[tuple[str, str]] = []
    for _, report in group:
        shard = report.get("shard") or {}
        planned += [tuple(c) for c in shard.get("planned", []) if tuple(c) not in planned]
        for row in report.get("artifacts", []):
            cell = (row.get("format"), row.get("quant"))
            if cell not in rows or EARLIER in (rows[cell].get("notes") or []):
                rows[cell] = row
    missing = [c for c in planned if c not in rows]
    if missing:
        raise EdgekitError(
            f"{target}: no shard ran {', '.join('-'.join(c) for c in missing)}",
            hint="merge the reports of every shard 1/N..N/N",
        )
    order = {cell: i for i, cell in enumerate(planned)}
    merged = {k: v for k, v in first.items() if k != "shard"}
    merged["artifacts"] = sorted(
        rows.values(), key=lambda r: order.get((r.get("format"), r.get("quant")), len(order))
    )
    merged["timings_s"] = {}  # per-shard step times do not add up to a run's
    return merged


def _identity(report: dict, field: str) -> object:
    value = report.get(field) or {}
    return value.get("hash") if field == "recipe" else value.get("key")


def output_folders(merged: dict[str, dict], out: Path) -> dict[str, Path]:
    """One target: OUT itself; several: OUT/<target>/."""
    if len(merged) == 1:
        return {next(iter(merged)): out}
    return {target: out / target for target in merged}
