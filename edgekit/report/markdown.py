"""report.md: a table a person reads in a pull-request comment."""

from __future__ import annotations

from edgekit.report.rows import columns_for, display_row


def _table(rows: list[dict[str, str]], columns: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(r[c].replace("|", "\\|") for c in columns) + " |")
    return lines


def render_markdown(report: dict) -> str:
    t, ref, host = report["target"], report["reference"], report["host"]
    lines = [
        f"# edgekit report: {report['recipe']['name']} → {t['name']}",
        "",
        f"- source: `{report['source']['canonical']}` (sha256 `{report['source']['sha256'][:16]}…`)",
        f"- reference test accuracy: {ref['test_accuracy']:.3f} ({len(ref['classes'])} classes)",
        f"- host: {host['cpu']}, {host['cores']} cores; measured with {t['threads']} thread(s)",
        "",
        *_table([display_row(a) for a in report["artifacts"]], columns_for(report)),
        "",
    ]
    reasons = [(a["format"], a["quant"], a["parity"]["reasons"]) for a in report["artifacts"] if a.get("parity") and a["parity"]["reasons"]]
    if reasons:
        lines += ["## Parity notes", ""] + [f"- {f}-{q}: {'; '.join(r)}" for f, q, r in reasons] + [""]
    lines.append(f"edgekit {report['edgekit_version']}, report schema {report['schema_version']}")
    return "\n".join(lines) + "\n"
