"""The cross-target table of a multi-target run: one line per (target, artifact)."""

from __future__ import annotations

from html import escape
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
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |")
    return "\n".join(lines) + "\n"


def _cells(r: dict) -> list[str]:
    return [
        str(r["target"]),
        str(r["format"]),
        str(r["quant"]),
        str(r["status"]),
        human_size(r["size_bytes"]),
        r["parity"] or "-",
        ms_text(r["host_p50_ms"]),
        ms_text(r["estimated_ms"]),
        r["target_verdict"] or "-",
    ]


def html_page(reports: list[tuple[str, dict]]) -> str:
    """targets.html: the cross-target table, then each target's accuracy-against-latency chart."""
    from edgekit.report.html import CSS, latency_chart

    rows = cross_target_rows(reports)
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows)
    charts = "".join(
        f'<figure><a href="{escape(target)}/report.html">{escape(target)}: full report</a>{latency_chart(report)}</figure>'
        for target, report in reports
    )
    recipe = reports[0][1]["recipe"]["name"] if reports else "?"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>edgekit targets: {escape(recipe)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>edgekit targets: {escape(recipe)}</h1>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Accuracy against estimated latency, per target</h2><div class="plots">{charts}</div>
<p class="note">Sizes are in binary units (KiB, MiB) everywhere in this report.</p>
</body></html>
"""


def write_cross_target(recipe_dir: Path, reports: list[tuple[str, dict]]) -> Path:
    """Write RECIPE_DIR/targets.json, targets.md and targets.html; returns the .md path."""
    rows = cross_target_rows(reports)
    atomic_write_json(
        recipe_dir / "targets.json", {"schema_version": 1, "targets": [t for t, _ in reports], "rows": rows}
    )
    atomic_write_text(recipe_dir / "targets.html", html_page(reports))
    return atomic_write_text(recipe_dir / "targets.md", f"# Targets\n\n{markdown(rows)}")
