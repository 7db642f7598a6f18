"""One row per artifact as display strings: shared by the terminal summary and report.md."""

from __future__ import annotations

COLUMNS = ("format", "quant", "status", "size", "parity", "top-1 agree", "max |err|", "accuracy", "host p50", "host p90", "bench")


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _ms(v: float | None) -> str:
    return "-" if v is None else (f"{v:.3f} ms" if v < 1 else f"{v:.2f} ms")


def display_row(a: dict) -> dict[str, str]:
    p, b, art = a.get("parity") or {}, a.get("bench") or {}, a.get("artifact") or {}
    return {
        "format": a["format"],
        "quant": a["quant"],
        "status": a["status"] if not a.get("error") else f"{a['status']}: {a['error']}",
        "size": human_size(art.get("size_bytes")),
        "parity": p.get("verdict", "-"),
        "top-1 agree": f"{p['top1_agreement']:.3f}" if p else "-",
        "max |err|": f"{p['max_abs_err']:.2g}" if p else "-",
        "accuracy": f"{p['accuracy']:.3f}" if p and p.get("accuracy") is not None else "-",
        "host p50": _ms(b.get("p50_ms")),
        "host p90": _ms(b.get("p90_ms")),
        "bench": b.get("validity", "-"),
    }
