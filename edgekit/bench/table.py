"""Human-readable bench output: one progress line per artifact, then one table."""

from __future__ import annotations

from rich.table import Table

from edgekit.console import console, err_console


def _ms(v: float | None) -> str:
    return "-" if v is None else (f"{v * 1000:.1f} µs" if v < 1 else f"{v:.2f} ms")


def print_progress(result: dict) -> None:
    if result["status"] == "ok":
        err_console.print(
            f"  [dim]{result['label']}: p50 {_ms(result['p50_ms'])}, {result['runs']} runs, {result['validity']}[/]"
        )
    else:
        err_console.print(f"  [red]failed[/] {result['label']}: {result['error']}")


def print_table(results: list[dict], title: str = "host benchmark") -> None:
    table = Table(title=title)
    for col in (
        "artifact",
        "runtime",
        "threads",
        "p50",
        "p90",
        "p99",
        "CV",
        "runs",
        "peak RSS",
        "size",
        "verdict",
    ):
        table.add_column(col, justify="left" if col in ("artifact", "runtime", "verdict") else "right")
    for r in results:
        rt = r.get("runtime") or {}
        size = r.get("model_size_bytes")
        verdict = r["validity"] + (f": {'; '.join(r['validity_reasons'])}" if r["validity_reasons"] else "")
        if r["status"] != "ok":
            verdict = f"FAILED: {r['error']}"
        table.add_row(
            r["label"],
            str(rt.get("runtime") or "-"),
            str(rt.get("threads") or "-"),
            _ms(r["p50_ms"]),
            _ms(r["p90_ms"]),
            _ms(r["p99_ms"]),
            "-" if r["cv"] is None else f"{r['cv']:.1%}",
            str(r["runs"] or "-"),
            "-" if not r.get("peak_rss_kb") else f"{r['peak_rss_kb'] / 1024:.0f} MiB",
            "-" if size is None else f"{size / 1024:.1f} KiB",
            verdict,
        )
    console.print(table)
    samples = results[0].get("host") if results else None
    if samples:
        console.print(
            f"host: {samples['cpu']}, {samples['usable_cores']} usable cores, governor {samples['governor'] or 'unreadable'}, "
            f"{samples['os']}, Python {samples['python']}"
        )
