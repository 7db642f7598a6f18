"""report.md: a table a person reads in a pull-request comment.

Every piece of report text that lands in Markdown goes through `md_inline`: converter errors carry
pipes, newlines, `<module>`-style angle brackets, `*args` and backticks, and any of those breaks a
GitHub table row or turns into markup. GFM has no line break inside a table cell, so a multi-line
text is joined with `<br>` (an inline HTML tag GitHub keeps) and stays one row.
"""

from __future__ import annotations

import re

from edgekit.report.attribution import keep_float_names, layer_label
from edgekit.report.rows import (
    accuracy_basis,
    columns_for,
    display_row,
    reference_flags,
)
from edgekit.report.slow import slow_notes

# ASCII punctuation that starts inline markup in CommonMark/GFM, plus the GFM cell separator.
# CommonMark lets a backslash escape any ASCII punctuation, so escaping never changes the text shown.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!])")


def md_inline(text: object) -> str:
    """TEXT as literal inline Markdown on one line: markup escaped, line breaks as <br>."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(_INLINE_SPECIAL.sub(r"\\\1", line.strip()) for line in lines if line.strip())


def md_table(rows: list[dict[str, str]], columns: tuple[str, ...]) -> list[str]:
    lines = [
        "| " + " | ".join(md_inline(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(md_inline(r[c]) for c in columns) + " |")
    return lines


def render_markdown(report: dict) -> str:
    t, ref, host = report["target"], report["reference"], report["host"]
    lines = [
        f"# edgekit report: {md_inline(report['recipe']['name'])} → {md_inline(t['name'])}",
        "",
        f"- source: `{report['source']['canonical']}` (sha256 `{report['source']['sha256'][:16]}…`)",
        f"- {md_inline(accuracy_basis(report))} ({len(ref['classes'])} classes)",
        f"- host: {md_inline(host['cpu'])}, {host['cores']} cores; measured with {t['threads']} thread(s)",
        *(f"- ⚠ **reference not trustworthy**: {md_inline(flag)}" for flag in reference_flags(report)),
        "",
        *md_table([display_row(a) for a in report["artifacts"]], columns_for(report)),
        "",
    ]
    slow = slow_notes(report)
    if slow:
        lines += ["## Slower than fp32", ""] + [f"- ⚠ {md_inline(n)}" for n in slow] + [""]
    reasons = [
        (a["format"], a["quant"], a["parity"]["reasons"])
        for a in report["artifacts"]
        if a.get("parity") and a["parity"]["reasons"]
    ]
    if reasons:
        lines += (
            ["## Parity notes", ""] + [f"- {f}-{q}: {md_inline('; '.join(r))}" for f, q, r in reasons] + [""]
        )
    lines += _attribution(report)
    lines.append(
        f"edgekit {report['edgekit_version']}, report schema {report['schema_version']}; "
        "sizes in binary units (1 KiB = 1024 bytes)"
    )
    return "\n".join(lines) + "\n"


def _attribution(report: dict) -> list[str]:
    """Per artifact whose int8 parity was not a pass: its worst layers by Keras name, and the recipe fix."""
    lines: list[str] = []
    for a in report["artifacts"]:
        worst = (a.get("parity") or {}).get("worst_layers") or []
        if not worst:
            continue
        rows = [
            {
                "layer (keep_float name)": layer_label(w),
                "signal lost": f"{w['signal_lost']:.0%}" if w.get("signal_lost") is not None else "-",
                "RMS error": f"{w['rmse']:.3g}",
            }
            for w in worst
        ]
        lines += [f"## Where {md_inline(a['format'] + '-' + a['quant'])} loses accuracy", ""]
        lines += md_table(rows, ("layer (keep_float name)", "signal lost", "RMS error")) + [""]
        names = keep_float_names(worst)
        if names:
            lines += [
                "To keep the worst layers in float, add to the recipe:",
                "",
                "```yaml",
                "convert:",
                "  tflite:",
                f"    keep_float: [{', '.join(names)}]",
                "```",
                "",
            ]
    return lines
