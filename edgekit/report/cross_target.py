"""The cross-target table of a multi-target run: one line per (target, artifact)."""

from __future__ import annotations

from pathlib import Path

from edgekit.fsutil import atomic_write_json, atomic_write_text
from edgekit.report.rows import estimate_verdict, estimated_ms, human_size, ms_text

COLUMNS = (
    "target",
    "format",
    "quant",
    "status",
    "size",
    "parity",
    "host p50",
    "est. target",
    "target verdict",
)


def cross_target_rows(reports: list[tuple[str, dict]]) -> list[dict]:
    rows = []
    for target, report in reports:
        for a in report.get("artifacts", []):
            parity, bench, art = a.get("parity") or {}, a.get("bench") or {}, a.get("artifact") or {}
            rows.append(
                {
                    "target": target,
                    "format": a.get("format"),
                    "quant": a.get("quant"),
                    "status": a.get("status"),
                    "size_bytes": art.get("size_bytes"),
                    "parity": parity.get("verdict"),
                    "host_p50_ms": bench.get("p50_ms"),
                    "estimated_ms": estimated_ms(a.get("estimate")),
                    "target_verdict": estimate_verdict(a.get("estimate")) if a.get("estimate") else None,
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [
            r["target"],
            r["format"],
            r["quant"],
            r["status"],
            human_size(r["size_bytes"]),
            r["parity"] or "-",
            ms_text(r["host_p50_ms"]),
            ms_text(r["estimated_ms"]),
            r["target_verdict"] or "-",
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_cross_target(recipe_dir: Path, reports: list[tuple[str, dict]]) -> Path:
    """Write RECIPE_DIR/targets.json and targets.md; returns the .md path."""
    rows = cross_target_rows(reports)
    atomic_write_json(
        recipe_dir / "targets.json", {"schema_version": 1, "targets": [t for t, _ in reports], "rows": rows}
    )
    return atomic_write_text(recipe_dir / "targets.md", f"# Targets\n\n{markdown(rows)}")
