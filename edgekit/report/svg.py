"""Three small inline-SVG charts for report.html, drawn by hand.

Hand-drawn SVG instead of matplotlib: the output is text (diffable, tiny, deterministic), needs no
fonts or image encoding, scales crisply in the browser, and keeps report writing free of a
1-second matplotlib import inside the pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

W, H = 640, 360
PAD_L, PAD_R, PAD_T, PAD_B = 70, 20, 30, 50
FRONT, OTHER, ACCENT = "#d62728", "#1f77b4", "#444"


@dataclass
class Axis:
    lo: float
    hi: float
    a: float  # pixel of lo
    b: float  # pixel of hi
    log: bool = False

    def __post_init__(self) -> None:
        if self.log:
            self.lo, self.hi = math.log10(max(self.lo, 1e-9)), math.log10(max(self.hi, 1e-9))
        if self.hi - self.lo < 1e-12:  # one value only: open a window around it
            self.lo, self.hi = self.lo - 0.5, self.hi + 0.5

    def __call__(self, v: float) -> float:
        v = math.log10(max(v, 1e-9)) if self.log else v
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if self.log:  # 1-2-5 per decade, so that a narrow log axis still has several labels
            cands = [
                m * 10.0**e for e in range(math.floor(self.lo), math.ceil(self.hi) + 1) for m in (1, 2, 5)
            ]
            return [t for t in cands if self.lo - 1e-9 <= math.log10(t) <= self.hi + 1e-9] or [10.0**self.lo]
        step = _nice_step((self.hi - self.lo) / 5)
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step + 1e-9) + 1)]


def _nice_step(raw: float) -> float:
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= raw:
            return m * 10**exp
    return 10 ** (exp + 1)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _padded(lo: float, hi: float, log: bool) -> tuple[float, float]:
    if log:
        return lo / 1.3, hi * 1.3
    span = (hi - lo) or abs(hi) or 1.0
    return lo - 0.08 * span, hi + 0.08 * span


def _frame(title: str, x: Axis, y: Axis | None, x_label: str, y_label: str) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" fill="none" stroke="#999"/>',
    ]
    for t in x.ticks():
        px = x(t)
        out.append(
            f'<line x1="{px:.1f}" y1="{PAD_T}" x2="{px:.1f}" y2="{H - PAD_B}" stroke="#eee"/>'
            f'<text x="{px:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" font-size="11">{_fmt(t)}</text>'
        )
    for t in y.ticks() if y else []:
        py = y(t)
        out.append(
            f'<line x1="{PAD_L}" y1="{py:.1f}" x2="{W - PAD_R}" y2="{py:.1f}" stroke="#eee"/>'
            f'<text x="{PAD_L - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>'
        )
    out.append(
        f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - 12}" text-anchor="middle" font-size="12">{escape(x_label)}</text>'
    )
    if y_label:
        out.append(
            f'<text transform="translate(16 {(PAD_T + H - PAD_B) / 2}) rotate(-90)" text-anchor="middle" font-size="12">{escape(y_label)}</text>'
        )
    return out


def pareto_chart(points: list[tuple[str, float, float, bool]], y_label: str) -> str:
    """POINTS: (label, latency ms, accuracy, on_front). The front is joined by a step line."""
    lats, accs = [p[1] for p in points], [p[2] for p in points]
    log = max(lats) / max(min(lats), 1e-9) > 20
    x = Axis(*_padded(min(lats), max(lats), log), PAD_L, W - PAD_R, log)
    y = Axis(*_padded(min(accs), max(accs), False), H - PAD_B, PAD_T)
    out = _frame(
        "Latency vs accuracy (Pareto front in red)",
        x,
        y,
        "host p50 latency (ms)" + (", log scale" if log else ""),
        y_label,
    )
    front = sorted((p for p in points if p[3]), key=lambda p: p[1])
    if len(front) > 1:
        path = " ".join(f"{x(p[1]):.1f},{y(p[2]):.1f}" for p in front)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{FRONT}" stroke-width="2" stroke-dasharray="6 3"/>'
        )
    for label, lat, acc, on in points:
        colour = FRONT if on else OTHER
        right = x(lat) > W - PAD_R - 120  # labels near the right edge go to the left of the point
        tx, anchor = (x(lat) - 9, "end") if right else (x(lat) + 9, "start")
        out.append(
            f'<circle cx="{x(lat):.1f}" cy="{y(acc):.1f}" r="6" fill="{colour}"><title>{escape(label)}: '
            f"{lat:.4g} ms, {acc:.4g}</title></circle>"
            f'<text x="{tx:.1f}" y="{y(acc) - 8:.1f}" font-size="12" fill="{colour}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    return "\n".join(out + ["</svg>"])


def bar_chart(title: str, items: list[tuple[str, float]], unit_label: str) -> str:
    """Horizontal bars, one per (label, value)."""
    x = Axis(0.0, max(v for _, v in items) * 1.15, PAD_L + 60, W - PAD_R)
    out = _frame(title, x, None, unit_label, "")
    slot = (H - PAD_T - PAD_B) / len(items)
    for i, (label, v) in enumerate(items):
        top = PAD_T + i * slot + slot * 0.2
        out.append(
            f'<rect x="{x(0):.1f}" y="{top:.1f}" width="{x(v) - x(0):.1f}" height="{slot * 0.6:.1f}" fill="{OTHER}"/>'
            f'<text x="{x(0) - 6:.1f}" y="{top + slot * 0.3 + 4:.1f}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<text x="{x(v) + 4:.1f}" y="{top + slot * 0.3 + 4:.1f}" font-size="11">{_fmt(v)}</text>'
        )
    return "\n".join(out + ["</svg>"])


def box_chart(title: str, items: list[tuple[str, dict[str, float]]]) -> str:
    """Horizontal box plots; each item's dict has p1, p25, p50, p75, p99 (ms)."""
    lo = min(s["p1"] for _, s in items)
    hi = max(s["p99"] for _, s in items)
    log = hi / max(lo, 1e-9) > 20
    x = Axis(*_padded(lo, hi, log), PAD_L + 60, W - PAD_R, log)
    out = _frame(
        title,
        x,
        None,
        "latency (ms)" + (", log scale" if log else "") + "; whiskers p1–p99, box p25–p75, line p50",
        "",
    )
    slot = (H - PAD_T - PAD_B) / len(items)
    for i, (label, s) in enumerate(items):
        mid = PAD_T + (i + 0.5) * slot
        half = min(slot * 0.3, 18)
        out.append(
            f'<line x1="{x(s["p1"]):.1f}" y1="{mid:.1f}" x2="{x(s["p99"]):.1f}" y2="{mid:.1f}" stroke="{ACCENT}"/>'
            f'<rect x="{x(s["p25"]):.1f}" y="{mid - half:.1f}" width="{max(x(s["p75"]) - x(s["p25"]), 1):.1f}" '
            f'height="{2 * half:.1f}" fill="#aec7e8" stroke="{ACCENT}"/>'
            f'<line x1="{x(s["p50"]):.1f}" y1="{mid - half:.1f}" x2="{x(s["p50"]):.1f}" y2="{mid + half:.1f}" stroke="{FRONT}" stroke-width="2"/>'
            f'<text x="{PAD_L + 54}" y="{mid + 4:.1f}" text-anchor="end" font-size="12">{escape(label)}</text>'
        )
    return "\n".join(out + ["</svg>"])
