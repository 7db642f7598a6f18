"""The report step: the run's report built and written (edgekit/report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgekit.matrix import Row

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext
    from edgekit.stages.train import Reference


def report_step(ctx: RunContext, source, reference: Reference, rows: list[Row]) -> dict:
    from edgekit.report.build import build_report, write_reports
    from edgekit.report.carry import carry_earlier_rows

    with ctx.steps.step("report") as note:
        report = build_report(ctx, source, reference, rows)
        carried = carry_earlier_rows(report, ctx.run_dir)  # a narrowed run keeps the rows it did not redo
        paths = write_reports(report, ctx.run_dir)
        note(
            ", ".join(str(p.relative_to(ctx.run_dir)) for p in paths)
            + (f" ({carried} row(s) kept from an earlier run)" if carried else "")
        )
    return report
