"""Rich renderings of profiles, analyses, estimates, calibrations and the evaluation report."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from edgekit.targets.analysis.graph import GraphAnalysis
from edgekit.targets.estimator import Estimate
from edgekit.targets.profile import TargetProfile


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MB" if n >= 2**20 / 10 else f"{n / 1024:.0f} KB"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def _rho(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def profile_table(profile: TargetProfile, held_out: dict[str, Any] | None) -> Table:
    t = Table(title=f"{profile.name}: {profile.description}", title_justify="left", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    t.add_row("aliases", ", ".join(profile.aliases) or "-")
    for k, v in profile.hardware.model_dump().items():
        if v is not None:
            t.add_row(f"hardware.{k}", str(v))
    t.add_row("runtimes", ", ".join(profile.runtimes))
    t.add_row("plan.formats", ", ".join(profile.plan.formats))
    for fmt, modes in profile.plan.quant.items():
        t.add_row(f"plan.quant.{fmt}", ", ".join(modes))
    t.add_row("plan.threads", str(profile.plan.threads))
    t.add_row("calibration.device", profile.calibration.device or "-")
    if profile.calibration.fitted:
        f = profile.calibration.fitted
        t.add_row(
            "calibration.fitted",
            f"{f.get('measurements')} measurements ({f.get('runtime')}), base {f.get('base')}",
        )
        mine = f.get("held_out") or {}
        t.add_row(
            "held-out (yours)",
            f"{mine.get('n', 0)} measurements, median |err| {_pct(mine.get('median_abs_pct'))}"
            if mine
            else "needs measurements of 3 or more artifacts",
        )
    if held_out:
        for scheme in ("loso", "lomo"):
            m = held_out.get(scheme) or {}
            t.add_row(
                f"held-out {scheme.upper()}",
                f"{m.get('n', 0)} rows, median |err| {_pct(m.get('median_abs_pct'))}, "
                f"within ±25% {_share(m.get('within_25'))}, Spearman {_rho(m.get('spearman'))}",
            )
    if profile.notes:
        t.add_row("notes", profile.notes)
    return t


def analysis_table(a: GraphAnalysis, show_ops: bool) -> Group:
    head = Text(
        f"{a.path.name}: {a.format}, {len(a.ops)} ops, {a.total_macs / 1e6:.1f} M MACs, weights {_mb(a.weight_bytes)}, "
        f"peak activations {_mb(a.peak_activation_bytes)}, file {_mb(a.size_bytes)}"
    )
    t = Table(title="MACs by op class", title_justify="left")
    for col in ("class", "MACs (M)"):
        t.add_column(col)
    for c, v in a.macs_by_class().items():
        if v:
            t.add_row(c, f"{v / 1e6:.2f}")
    parts: list[Any] = [head, t]
    if show_ops:
        ops = Table(title="ops", title_justify="left")
        for col in ("#", "type", "class", "dtype", "output", "MACs", "weights", "activations"):
            ops.add_column(col)
        for op in a.ops:
            out = "x".join(str(d) for d in op.outputs[0].shape) if op.outputs else ""
            ops.add_row(
                str(op.index),
                op.type,
                op.op_class,
                op.dtype,
                out,
                str(op.macs),
                _mb(op.weight_bytes),
                _mb(op.activation_bytes),
            )
        parts.append(ops)
    return Group(*parts)


def estimate_text(e: Estimate, a: GraphAnalysis) -> Group:
    if e.latency_ms is None:
        lat = "latency: not estimated"
    else:
        lat = f"latency: {e.latency_ms:.1f} ms (likely {e.low_ms:.1f}-{e.high_ms:.1f} ms) with {e.threads} thread(s) on {e.runtime}"
    mem = f"peak RAM: {_mb(e.peak_ram_bytes)}" + (
        f", flash: {_mb(e.flash_bytes)}" if e.flash_bytes is not None else ""
    )
    verdict = "[green]fits[/]" if e.fits else "[red]does not fit[/]"
    lines: list[Any] = [Text.from_markup(f"[bold]{e.target}[/] {e.quant}: {lat}; {mem}; {verdict}")]
    if e.basis:
        lines.append(Text(f"  basis: {e.basis}", style="dim"))
    for w in e.warnings:
        lines.append(Text.from_markup(f"  [yellow]warning:[/] {w}"))
    if e.per_op_ms:
        slow = ", ".join(f"#{o['index']} {o['type']} {o['ms']:.2f} ms" for o in e.slowest_ops(a, 3))
        lines.append(Text(f"  slowest ops: {slow}", style="dim"))
    return Group(*lines)


def _metric_cells(m: dict[str, Any] | None) -> list[str]:
    m = m or {}
    return [_pct(m.get("median_abs_pct")), _share(m.get("within_25")), _rho(m.get("spearman"))]


def evaluation_tables(report: dict[str, Any]) -> Group:
    held = report["held_out"]
    t = Table(
        title="Held-out error of latency estimates (rows never used for the fit that predicts them)",
        title_justify="left",
    )
    for col in ("device", "profile", "rows", "LOSO med|err|", "±25%", "ρ", "LOMO med|err|", "±25%", "ρ"):
        t.add_column(col, justify="right" if col not in ("device", "profile") else "left")
    for key, m in held["devices"].items():
        t.add_row(
            key,
            ", ".join(report["profiles"].get(key, [])) or "-",
            str(m["loso"]["n"]),
            *_metric_cells(m["loso"]),
            *_metric_cells(m["lomo"]),
        )
    pooled = held["pooled"]
    t.add_row(
        "[bold]all devices[/]",
        "",
        str(pooled["loso"]["n"]),
        *_metric_cells(pooled["loso"]),
        *_metric_cells(pooled["lomo"]),
    )
    macs = Table(title="MAC counts of the built calibration models vs published", title_justify="left")
    for col in ("model", "ours (M)", "published (M)", "diff"):
        macs.add_column(col)
    for c in report["mac_checks"]:
        macs.add_row(
            c["model"], f"{c['macs_m']:.1f}", f"{c['published_macs_m']:.0f}", f"{c['diff_pct']:+.1f}%"
        )
    by = Table(title="Where the held-out error comes from", title_justify="left")
    for col in ("left out", "rows", "med|err|", "±25%", "ρ"):
        by.add_column(col, justify="left" if col == "left out" else "right")
    for name, scheme in (("sources", "source"), ("architectures", "model")):
        for key, m in held.get(name, {}).items():
            by.add_row(f"{scheme} {key}", str(m["n"]), *_metric_cells(m))
    goal = report["goal_median_abs_pct"]
    verdicts = [
        f"{s.upper()} {pooled[s]['median_abs_pct']:.1f}% ({'met' if pooled[s]['median_abs_pct'] <= goal else 'not met'})"
        for s in ("loso", "lomo")
    ]
    shared, sole = pooled["loso_shared_family"], pooled["loso_sole_family"]
    split = Text(
        f"LOSO split: sources whose runtime has another published source {shared['n']} rows, median |err| "
        f"{_pct(shared['median_abs_pct'])}, within ±25% {_share(shared['within_25'])}; sources that are their runtime's "
        f"only one ({', '.join(sole['sources'])}) {sole['n']} rows, {_pct(sole['median_abs_pct'])}"
    )
    lines: list[Any] = [
        macs,
        t,
        by,
        split,
        Text(
            f"rows: {report['rows']['used']} published CPU results used, {report['rows']['skipped']} skipped; "
            f"training fit median |err| {report['training']['median_abs_pct']:.1f}%"
        ),
        Text(f"goal (median |err| <= {goal:.0f}% on held-out rows): " + ", ".join(verdicts)),
    ]
    lines += [
        Text(f"conversion failed: {f['model']} {f['dtype']}: {f['reason']}", style="red")
        for f in report["failures"]
    ]
    return Group(*lines)


def calibration_table(result: Any) -> Group:
    t = Table(title=f"{result.profile.name}: fit on your measurements", title_justify="left")
    for col in ("artifact", "quant", "threads", "measured ms", "fitted ms", "held-out ms"):
        t.add_column(col)
    for m, f, h in zip(result.measurements, result.fitted_ms, result.held_out_ms):
        t.add_row(
            m.artifact,
            m.quant,
            str(m.threads),
            f"{m.latency_ms:.2f}",
            f"{f:.2f}",
            "-" if h is None else f"{h:.2f}",
        )
    fac = result.factors
    lines: list[Any] = [
        t,
        Text(
            "scale: "
            + ", ".join(f"{q} {v:.3f}" for q, v in fac["scale"].items())
            + (
                "; class multipliers: "
                + ", ".join(f"{c} {v:.3f}" for c, v in fac["class_multiplier"].items())
                if fac["class_multiplier"]
                else ""
            )
            + (
                "; parallel share at 4 GB/s per core: "
                + ", ".join(f"{q} {v:.3f}" for q, v in fac["parallel"].items())
                if fac["parallel"]
                else ""
            )
        ),
    ]
    held = fac["held_out"]
    if held:
        lines.append(
            Text(
                f"held-out (leave one artifact out): {held['n']} measurements, median |err| {_pct(held['median_abs_pct'])}, "
                f"within ±25% {_share(held['within_25'])}, Spearman {_rho(held['spearman'])}"
            )
        )
    else:
        lines.append(
            Text("held-out error: needs measurements of at least 3 different artifacts", style="yellow")
        )
    return Group(*lines)
