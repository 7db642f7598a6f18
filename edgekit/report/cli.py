"""`edgekit report` and `edgekit check`. Heavy work is imported inside the commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

FORMATS = ("json", "md", "html")

REPORT_EPILOG = """Examples:\n\n
  edgekit report out/demo/rpi4                  # rewrite report.json, report.md and report.html\n
  edgekit report merge s1/out/demo/rpi4 s2/out/demo/rpi4 --out merged/   # join shard reports\n
  edgekit report out/demo/rpi4 --format html    # only report.html\n
  edgekit report out/demo/rpi4 -f md -f json\n"""

CHECK_EPILOG = """Exit codes: 0 no regression, 1 regression, 2 usage error (bad flag, missing or invalid file).\n\n
Examples:\n\n
  edgekit check out/demo/rpi4 --baseline baseline/report.json\n
  edgekit check out/demo/rpi4/report.json --baseline base.json --max-latency-regression 5% --markdown diff.md\n
  edgekit check out/demo/rpi4 --baseline base.json --update-baseline   # accept the new numbers\n
  edgekit check out/demo/rpi4 --baseline base.json --json | jq .passed\n"""


def report(
    run_dir: Path = typer.Argument(
        ..., help="Run folder written by `edgekit convert` (holds report.json), or `merge`."
    ),
    reports: list[Path] = typer.Argument(
        None, help="With `merge`: the shards' report.json files or run folders."
    ),
    formats: list[str] = typer.Option(
        [], "--format", "-f", help="html | md | json (repeatable). Default: all three."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="With `merge`: where the merged report goes (several targets: OUT/<target>/).",
    ),
) -> None:
    """Write report.json, report.md and/or report.html for a finished run; `report merge` joins shard reports."""
    if str(run_dir) == "merge" and not run_dir.exists():
        return merge(reports or [], out)
    if reports:
        from edgekit.errors import UsageError

        raise UsageError(
            f"`edgekit report` takes one run folder, got {len(reports) + 1}",
            hint="to join the reports of shards: edgekit report merge REPORT... --out DIR",
        )
    from edgekit.console import console
    from edgekit.errors import UsageError
    from edgekit.fsutil import atomic_write_json, atomic_write_text
    from edgekit.report.html import render_html
    from edgekit.report.markdown import render_markdown
    from edgekit.report.schema import load_report
    from edgekit.report.slow import mark_slow_modes

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown report format {bad[0]!r}", hint=f"use one of {', '.join(FORMATS)}")
    data = mark_slow_modes(
        load_report(run_dir)
    )  # derived from the measurements: recomputed with this version's rule
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    writers = {
        "json": lambda p: atomic_write_json(p, data),
        "md": lambda p: atomic_write_text(p, render_markdown(data)),
        "html": lambda p: atomic_write_text(p, render_html(data)),
    }
    for fmt in formats or FORMATS:
        console.print(f"wrote {writers[fmt](folder / f'report.{fmt}')}")


def merge(paths: list[Path], out: Path | None) -> None:
    """Join the reports of the shards of one run (`convert --shard K/N`) into the unsharded report."""
    from edgekit.console import console
    from edgekit.errors import UsageError
    from edgekit.report.build import write_reports
    from edgekit.report.merge import merge_reports, output_folders
    from edgekit.report.schema import load_report

    if len(paths) < 1 or out is None:
        raise UsageError(
            "`edgekit report merge` needs the shards' reports and --out DIR",
            hint="edgekit report merge shard1/out/demo/rpi4 shard2/out/demo/rpi4 --out merged/",
        )
    merged = merge_reports([(str(p), load_report(p)) for p in paths])
    for target, folder in output_folders(merged, out).items():
        folder.mkdir(parents=True, exist_ok=True)
        written = write_reports(merged[target], folder)
        console.print(
            f"{target}: {len(merged[target]['artifacts'])} row(s) → {', '.join(str(w) for w in written)}"
        )


def check(
    report_path: Path = typer.Argument(
        ..., metavar="REPORT", help="report.json (or its run folder) to judge."
    ),
    baseline: Path = typer.Option(..., "--baseline", "-b", help="Baseline report.json to compare against."),
    max_latency_regression: str = typer.Option(
        "10%",
        help="Allowed growth of the median latency: a regression when the whole 95% interval of the median ratio is above it.",
    ),
    max_accuracy_drop: float = typer.Option(
        1.0, min=0.0, help="Allowed task-accuracy drop in percentage points."
    ),
    max_size_growth: str = typer.Option("5%", help="Allowed growth of an artifact's size."),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Also write the diff table here (for a PR comment)."
    ),
    update_baseline: bool = typer.Option(
        False, "--update-baseline", help="Accept REPORT as the new baseline and exit 0."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the verdict and every finding as JSON on stdout instead of the table."
    ),
) -> None:
    """Compare a report with a baseline; exit 1 on a latency, accuracy, parity or size regression, or a reference that learned nothing."""
    from edgekit.console import console, err_console
    from edgekit.errors import UsageError
    from edgekit.fsutil import atomic_write_json, atomic_write_text
    from edgekit.report.check import (
        Thresholds,
        check_json,
        compare_reports,
        parse_fraction,
        render_check_markdown,
    )
    from edgekit.report.schema import load_report

    th = Thresholds(
        parse_fraction(max_latency_regression, "--max-latency-regression"),
        max_accuracy_drop,
        parse_fraction(max_size_growth, "--max-size-growth"),
    )
    new = load_report(report_path)
    say = err_console if as_json else console  # with --json, stdout is the JSON document only
    if update_baseline and not baseline.exists():
        atomic_write_json(baseline, new)
        say.print(f"no baseline at {baseline}: wrote this report there")
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "passed": True,
                        "regressions": 0,
                        "baseline": str(baseline),
                        "baseline_written": True,
                        "findings": [],
                    },
                    indent=2,
                )
            )
        return
    if not baseline.exists():
        raise UsageError(
            f"baseline {baseline} does not exist",
            hint="create it from this report with --update-baseline, or pass the right --baseline path",
        )
    result = compare_reports(new, load_report(baseline, "baseline"), th)
    text = render_check_markdown(result, str(baseline))
    if as_json:
        typer.echo(
            json.dumps(
                {**check_json(result, str(baseline), th), "baseline_written": update_baseline}, indent=2
            )
        )
    else:
        console.print(text, markup=False, highlight=False)
    if markdown:
        atomic_write_text(markdown, text)
    if update_baseline:
        atomic_write_json(baseline, new)
        say.print(f"updated baseline {baseline} ({len(result.regressions)} regression(s) accepted)")
        return
    if not result.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="report", epilog=REPORT_EPILOG)(report)
    app.command(name="check", epilog=CHECK_EPILOG)(check)
