"""The table `edgekit convert` ends with."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from edgekit.console import console
from edgekit.report.rows import (
    accuracy_basis,
    columns_for,
    display_row,
    reference_flags,
)
from edgekit.report.slow import slow_notes


def print_summary(report: dict, run_dir: Path) -> None:
    table = Table(title=f"{report['recipe']['name']} → {report['target']['name']}", title_justify="left")
    columns = columns_for(report)
    for col in columns:
        table.add_column(col, overflow="fold")
    for a in report["artifacts"]:
        row = display_row(a)
        table.add_row(*(row[c] for c in columns))
    console.print(table)
    console.print(f"{accuracy_basis(report)}; host latency with {report['target']['threads']} thread(s)", highlight=False)
    for note in slow_notes(report):
        console.print(f"[yellow]⚠ {note}[/]", highlight=False)
    for flag in reference_flags(report):
        console.print(f"[bold red]⚠ reference not trustworthy[/]: {flag}", highlight=False)
    console.print(f"wrote {run_dir / 'report.json'}, {run_dir / 'report.md'} and {run_dir / 'report.html'}")
