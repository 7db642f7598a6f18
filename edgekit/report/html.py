"""report.html: one self-contained file (inline CSS and SVG, no scripts, no network) built for a decision.

From the top: what the run is; accuracy against the target's estimated latency (with the estimate's
error band and any measured device latency); RAM and flash against the target's limits; the table;
where int8 loses accuracy, by the Keras layer names `convert.tflite.keep_float` takes; the reference's
confusion matrix; the host latency distributions. Sizes are in binary units (KiB/MiB/GiB) in the
table and every chart alike.
"""

from __future__ import annotations

from html import escape

import numpy as np

from edgekit.convert.tflite_debug import SIGNAL_LOST_DECISIVE
from edgekit.report.attribution import keep_float_names, layer_label
from edgekit.report.limits import target_limits
from edgekit.report.pareto import pareto_front
from edgekit.report.rows import (
    accuracy_basis,
    columns_for,
    display_row,
    estimated_ms,
    reference_flags,
)
from edgekit.report.samples import bench_samples, median_ms
from edgekit.report.slow import slow_notes
from edgekit.report.svg import Chart, LatencyPoint, bar_chart, box_chart, latency_accuracy_chart, limit_chart
from edgekit.report.units import size_unit

CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1240px}
table{border-collapse:collapse;font-size:13px;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 6px;text-align:left}
td{white-space:nowrap}td.status{white-space:normal}
th{background:#f3f3f3}.plots{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0}.plots svg{border:1px solid #ddd;background:#fff;max-width:100%;height:auto}
figcaption,.note{color:#555;font-size:13px;max-width:600px}.key{font-size:12px;columns:2;margin:4px 0 0;padding-left:18px}
.pass{color:#2a7a2a}.warn{color:#b8860b}.fail{color:#c00}
table.cm td{text-align:right;min-width:2.5em}table.cm th{font-weight:normal}
pre{background:#f6f8fa;padding:8px 12px;font-size:13px;display:inline-block;margin:4px 0}"""


def _ok(report: dict) -> list[dict]:
    return [a for a in report.get("artifacts", []) if a.get("status") == "ok"]


def _name(a: dict) -> str:
    return f"{a['format']}-{a['quant']}"


def _figure(chart: Chart, caption: str = "") -> str:
    key = (
        '<ol class="key" style="list-style:none">'
        + "".join(f"<li>{escape(k)}</li>" for k in chart.key)
        + "</ol>"
        if chart.key
        else ""
    )
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{chart.svg}{key}{cap}</figure>"


def _device_ms(a: dict) -> float | None:
    measured = [r["p50_ms"] for r in a.get("device") or [] if r.get("status") == "ok" and r.get("p50_ms")]
    return float(np.median(measured)) if measured else None


def latency_chart(report: dict) -> str:
    """Accuracy against the target's estimated latency (host p50 when nothing was estimated)."""
    ok = _ok(report)
    use_acc = all((a.get("parity") or {}).get("accuracy") is not None for a in ok)
    metric, y_label = (
        ("accuracy", "accuracy on the parity images")
        if use_acc
        else ("top1_agreement", "top-1 agreement with reference")
    )
    estimated = any(estimated_ms(a.get("estimate")) is not None for a in ok)
    target = report["target"]["name"]
    rows = []
    for a in ok:
        acc = (a.get("parity") or {}).get(metric)
        est = a.get("estimate") or {}
        ms = estimated_ms(est) if estimated else median_ms(a.get("bench"))
        if acc is None or ms is None:
            continue
        rows.append((a, float(ms), float(acc), est))
    if not rows:
        return (
            '<p class="note">No artifact has both a latency and an accuracy: no accuracy/latency chart.</p>'
        )
    front = pareto_front([(ms, acc) for _, ms, acc, _ in rows])
    points = [
        LatencyPoint(
            _name(a),
            ms,
            acc,
            on,
            low_ms=est.get("low_ms") if estimated else None,
            high_ms=est.get("high_ms") if estimated else None,
            device_ms=_device_ms(a),
        )
        for (a, ms, acc, est), on in zip(rows, front)
    ]
    if estimated:
        title, x_label = f"Accuracy against estimated latency on {target}", f"estimated {target} latency (ms)"
        caption = (
            "Bars: the estimate's error band (the range the calibrated estimator's held-out errors put the "
            "real latency in). Red: the Pareto front, no other artifact is both faster and at least as "
            "accurate."
        )
    else:
        title, x_label = "Accuracy against host latency (no target estimate)", "host p50 latency (ms)"
        caption = "No target estimate in this report: the host's latency. Red: the Pareto front."
    if any(p.device_ms is not None for p in points):
        caption += " Green diamonds: the median latency measured on the device, joined to its estimate."
    missing = [_name(a) for a in ok if a not in [r[0] for r in rows]]
    if missing:
        caption += f" Not drawn (no estimate or accuracy): {', '.join(missing)}."
    return _figure(latency_accuracy_chart(points, title, x_label, y_label), escape(caption))


def _memory_charts(report: dict) -> str:
    ok = _ok(report)
    limits = target_limits(report)
    ram = [(_name(a), (a.get("estimate") or {}).get("peak_ram_bytes")) for a in ok]
    flash = [
        (
            _name(a),
            (a.get("estimate") or {}).get("flash_bytes") or (a.get("artifact") or {}).get("size_bytes"),
        )
        for a in ok
    ]
    out = []
    for title, items, limit, what in (
        ("Peak RAM (estimated)", ram, limits.ram_bytes, limits.ram_text),
        ("Flash / storage (weights and model file)", flash, limits.flash_bytes, limits.flash_text),
    ):
        if not any(v for _, v in items):
            out.append(f'<p class="note">{escape(title)}: no estimate in this report.</p>')
            continue
        # One unit for the whole chart, chosen from its largest bar (KiB, MiB or GiB).
        unit, size = size_unit(max(v for _, v in items if v))
        chart = limit_chart(
            title,
            [(n, v / size if v else None) for n, v in items],
            None if limit is None else limit / size,
            unit,
            what,
        )
        out.append(_figure(chart))
    return "".join(out)


def _latency_svg(report: dict) -> str:
    items = []
    for a in _ok(report):
        s = bench_samples(a.get("bench"))
        if s is not None and s.size:
            q = np.percentile(s, [1, 25, 50, 75, 99])
            items.append((_name(a), dict(zip(("p1", "p25", "p50", "p75", "p99"), map(float, q)))))
    if not items:
        return '<p class="note">No raw latency samples in this report: no distribution plot.</p>'
    return _figure(box_chart("Host latency distribution", items))


def _attribution(report: dict) -> str:
    """Per artifact whose int8 parity was not a pass: the layers that lose most, by Keras layer name."""
    parts = []
    for a in report.get("artifacts", []):
        worst = (a.get("parity") or {}).get("worst_layers") or []
        if not worst:
            continue
        # The share of values int8 rounds to zero is what ranks first (see convert/tflite_debug.py);
        # reports without it, or where no layer loses any, show the RMS error instead.
        if any((w.get("signal_lost") or 0) >= SIGNAL_LOST_DECISIVE for w in worst):
            items = [(layer_label(w), 100 * float(w.get("signal_lost") or 0)) for w in worst]
            axis, unit = "share of the layer's non-zero values int8 rounds to zero (%)", "%"
        else:
            items = [(layer_label(w), float(w["rmse"])) for w in worst]
            axis, unit = "RMS error of the layer's output against float", ""
        chart = bar_chart(f"{_name(a)}: int8 error by layer", items, axis, unit)
        names = keep_float_names(worst)
        advice = (
            "To keep the worst layer in float, add to the recipe:<br><pre>convert:\n  tflite:\n    keep_float: ["
            + escape(", ".join(names))
            + "]</pre>"
            if names
            else "These layers carry no Keras layer name (they sit inside a hub backbone); "
            "<code>convert.tflite.keep_float</code> also takes the TFLite names shown."
        )
        parts.append(_figure(chart, advice))
    if not parts:
        return ""
    return (
        "<h2>Where int8 loses accuracy</h2><p class='note'>Each layer's quantized output against its float "
        "twin on the same input (TensorFlow's QuantizationDebugger), worst first; names are the Keras "
        "layers <code>convert.tflite.keep_float</code> takes.</p>"
        f'<div class="plots">{"".join(parts)}</div>'
    )


def _confusion(report: dict) -> str:
    cm = (report.get("reference") or {}).get("confusion_matrix")
    if not cm:
        return ""
    labels, counts = cm["labels"], np.asarray(cm["rows_true_columns_predicted"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    head = "<tr><th>true ↓ / predicted →</th>" + "".join(f"<th>{escape(n)}</th>" for n in labels) + "</tr>"
    body = []
    for name, row, frac in zip(labels, counts, share):
        cells = "".join(
            f'<td style="background:rgba(31,119,180,{f:.2f});color:{"#fff" if f > 0.55 else "#222"}" '
            f'title="{f:.0%} of {escape(name)}">{int(c)}</td>'
            for c, f in zip(row, frac)
        )
        body.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    return (
        "<h2>Confusion matrix</h2><p class='note'>The float reference on the test split: rows are the true "
        "class, columns the predicted one; shading is the share of the row.</p>"
        f'<table class="cm">{head}{"".join(body)}</table>'
    )


def _table(report: dict) -> str:
    cols = columns_for(report)
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = []
    for a in report.get("artifacts", []):
        r = display_row(a)
        cells = "".join(
            f'<td class="{escape(r[c]) if c == "parity" else c}">{escape(r[c])}</td>' for c in cols
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
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>{escape(title)}</h1>
{_header(report)}
<h2>Accuracy, latency and memory on {escape(report["target"]["name"])}</h2>
<div class="plots">{latency_chart(report)}{_memory_charts(report)}</div>
<h2>Artifacts</h2>
{_table(report)}
{"".join(f'<p class="warn">⚠ {escape(n)}</p>' for n in slow_notes(report))}
{_attribution(report)}
{_confusion(report)}
<h2>Host latency</h2><div class="plots">{_latency_svg(report)}</div>
<p class="note">edgekit {escape(str(report.get("edgekit_version")))}, report schema {report.get("schema_version")}.
Sizes are in binary units (1 KiB = 1024 bytes, 1 MiB = 1024 KiB) everywhere in this report.</p>
</body></html>
"""
