"""A narrowed run keeps the other rows of the run folder's report.

`edgekit convert --quant int8` after a full run converts and measures only the int8 rows; the
report it writes still lists the rows of the earlier run that this one did not touch, marked as
such, so a report checked against a full baseline does not read as rows gone missing. Rows are
carried only while they describe the same reference (its step key) and target, and only while
their artifact is still in the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

EARLIER = "from an earlier run: not in this run's plan"


def carry_earlier_rows(report: dict, run_dir: Path) -> int:
    """Append to REPORT the rows of RUN_DIR's previous report.json that it lacks; returns how many."""
    try:
        previous = json.loads((run_dir / "report.json").read_text())
    except (OSError, ValueError):
        return 0
    if not isinstance(previous, dict) or not _same_run(previous, report):
        return 0
    present = {(a.get("format"), a.get("quant")) for a in report["artifacts"]}
    carried = 0
    for row in previous.get("artifacts") or []:
        if not isinstance(row, dict) or (row.get("format"), row.get("quant")) in present:
            continue
        if (
            row.get("status") == "ok"
            and not (run_dir / "artifacts" / f"{row['format']}-{row['quant']}" / "artifact.json").is_file()
        ):
            continue  # its artifact is gone: the row no longer describes anything here
        notes = [n for n in row.get("notes") or [] if n != EARLIER]
        report["artifacts"].append({**row, "notes": [*notes, EARLIER]})
        carried += 1
    return carried


def _same_run(previous: dict, report: dict) -> bool:
    key = (report.get("reference") or {}).get("key")
    return (
        key is not None
        and (previous.get("reference") or {}).get("key") == key
        and (previous.get("target") or {}).get("name") == report["target"]["name"]
    )
