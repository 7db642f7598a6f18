"""`edgekit list ...`: one listing for every registry."""

from __future__ import annotations

import json

from rich.table import Table

from edgekit.console import console
from edgekit.errors import UsageError
from edgekit.registry import Registry

LISTABLE = ("targets", "formats", "quant", "runtimes")


def registry_for(what: str) -> Registry:
    key = what.lower().rstrip("s")
    if key == "target":
        from edgekit.targets.profile import builtin_targets

        return builtin_targets()
    if key == "format":
        from edgekit.convert import FORMATS

        return FORMATS
    if key in ("quant", "quant-mode"):
        from edgekit.quant import QUANT_MODES

        return QUANT_MODES
    if key == "runtime":
        from edgekit.runtimes import RUNTIMES

        return RUNTIMES
    raise UsageError(f"cannot list {what!r}", hint=f"choose one of: {', '.join(LISTABLE)}")


def list_registry(what: str, pattern: str = "*", as_json: bool = False) -> None:
    registry = registry_for(what)
    entries = registry.list(pattern)
    if as_json:
        rows = [{"name": e.name, "aliases": list(e.aliases), "description": e.description} for e in entries]
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{registry.kind}s", title_justify="left")
    for col in ("name", "aliases", "description"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.name, ", ".join(e.aliases), e.description)
    console.print(table)
    if not entries:
        console.print(f"no {registry.kind} matches {pattern!r}")
