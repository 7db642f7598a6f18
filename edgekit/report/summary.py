"""The table `edgekit convert` ends with (on stderr with `convert --json`, whose stdout is the JSON)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from edgekit.console import console
from edgekit.report.rows import accuracy_basis, columns_for, display_row, reference_flags
from edgekit.report.slow import slow_notes


def print_summary(report: dict, run_dir: Path, out: Console | None = None) -> None:
    out = out or console
    table = Table(title=f"{report['recipe']['name']} → {report['target']['name']}", title_justify="left")
    columns = columns_for(report)
    for col in columns:
        table.add_column(col, overflow="fold")
    for a in report["artifacts"]:
        row = display_row(a)
        table.add_row(*(Text(row[c]) for c in columns))  # Text: a converter error's "[...]" is not markup
    out.print(table)
    out.print(
        f"{accuracy_basis(report)}; host latency with {report['target']['threads']} thread(s)",
        highlight=False,
    )
    for note in slow_notes(report):
        out.print(f"[yellow]⚠ {escape(note)}[/]", highlight=False)
    for flag in reference_flags(report):
        out.print(f"[bold red]⚠ reference not trustworthy[/]: {escape(flag)}", highlight=False)
    out.print(
        f"wrote {run_dir / 'report.json'}, {run_dir / 'report.md'} and {run_dir / 'report.html'}",
        highlight=False,
    )
