"""report.html: one self-contained file (inline CSS and SVG, no scripts, no network) with plots."""

from __future__ import annotations

from html import escape

import numpy as np

from edgekit.report.pareto import pareto_front
from edgekit.report.rows import (
    accuracy_basis,
    columns_for,
    display_row,
    reference_flags,
)
from edgekit.report.samples import bench_samples, median_ms
from edgekit.report.slow import slow_notes
from edgekit.report.svg import bar_chart, box_chart, pareto_chart

CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1300px}
table{border-collapse:collapse;font-size:13px;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.plots{display:flex;flex-wrap:wrap;gap:16px}.plots svg{border:1px solid #ddd;background:#fff;
max-width:100%;height:auto}.note{color:#666;font-size:13px}.pass{color:#2a7a2a}.warn{color:#b8860b}.fail{color:#c00}"""


def _ok(report: dict) -> list[dict]:
    return [a for a in report.get("artifacts", []) if a.get("status") == "ok"]


def _name(a: dict) -> str:
    return f"{a['format']}-{a['quant']}"


def _pareto_svg(report: dict) -> str:
    rows = [(a, median_ms(a.get("bench")), (a.get("parity") or {})) for a in _ok(report)]
    use_acc = all(p.get("accuracy") is not None for _, _, p in rows)
    metric, label = (
        ("accuracy", "task accuracy on the parity images")
        if use_acc
        else ("top1_agreement", "top-1 agreement with reference")
    )
    pts = [(_name(a), m, p[metric]) for a, m, p in rows if m is not None and p.get(metric) is not None]
    if not pts:
        return '<p class="note">No artifact has both a latency and an accuracy: no Pareto plot.</p>'
    front = pareto_front([(lat, acc) for _, lat, acc in pts])
    return pareto_chart([(n, lat, acc, on) for (n, lat, acc), on in zip(pts, front)], label)


def _size_svg(report: dict) -> str:
    items = [
        (_name(a), a["artifact"]["size_bytes"] / 1024)
        for a in _ok(report)
        if (a.get("artifact") or {}).get("size_bytes")
    ]
    return (
        bar_chart("Artifact size", items, "size (KiB)") if items else '<p class="note">No artifact sizes.</p>'
    )


def _latency_svg(report: dict) -> str:
    items = []
    for a in _ok(report):
        s = bench_samples(a.get("bench"))
        if s is not None and s.size:
            q = np.percentile(s, [1, 25, 50, 75, 99])
            items.append((_name(a), dict(zip(("p1", "p25", "p50", "p75", "p99"), map(float, q)))))
    if not items:
        return '<p class="note">No raw latency samples in this report: no distribution plot.</p>'
    return box_chart("Host latency distribution", items)


def _table(report: dict) -> str:
    cols = columns_for(report)
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = []
    for a in report.get("artifacts", []):
        r = display_row(a)
        cells = "".join(
            f'<td class="{escape(r[c]) if c == "parity" else ""}">{escape(r[c])}</td>' for c in cols
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _header(report: dict) -> str:
    t, src, host = report["target"], report["source"], report.get("host", {})
    items = [
        f"source <code>{escape(str(src.get('canonical')))}</code> (sha256 <code>{escape(str(src.get('sha256'))[:16])}…</code>)",
        f"target {escape(t['name'])}: {escape(str(t.get('description', '')))}",
        escape(accuracy_basis(report)),
        f"host {escape(str(host.get('cpu', '?')))}, {host.get('cores', '?')} cores; {t.get('threads', '?')} thread(s)",
    ]
    items += [
        f'<strong class="fail">⚠ reference not trustworthy</strong>: {escape(flag)}'
        for flag in reference_flags(report)
    ]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def render_html(report: dict) -> str:
    title = f"edgekit report: {report['recipe']['name']} → {report['target']['name']}"
    plots = "".join(
        f"<figure>{svg}</figure>" for svg in (_pareto_svg(report), _size_svg(report), _latency_svg(report))
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>{escape(title)}</h1>
{_header(report)}
{_table(report)}
{"".join(f'<p class="warn">⚠ {escape(n)}</p>' for n in slow_notes(report))}
<h2>Plots</h2><div class="plots">{plots}</div>
<p class="note">edgekit {escape(str(report.get("edgekit_version")))}, report schema {report.get("schema_version")}.
Red points are on the Pareto front: no other artifact is both faster and at least as accurate.</p>
</body></html>
"""
