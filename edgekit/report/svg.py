"""The inline-SVG charts of report.html, drawn by hand.

Hand-drawn SVG instead of matplotlib: the output is text (diffable, tiny, deterministic), needs no
fonts or image encoding, scales crisply in the browser, and keeps report writing free of a
1-second matplotlib import inside the pipeline. Charts grow taller with the number of rows, so
twenty artifacts get as much room each as three. Point labels are placed by report/labels.py,
which guarantees they do not overlap; a label with no room becomes a number listed under the plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from edgekit.report.labels import Box, Placement, place_labels, text_box

W = 600
ROW = 22  # pixels per bar or box row
FRONT, OTHER, ACCENT, LIMIT, DEVICE = "#d62728", "#1f77b4", "#444", "#c00", "#2ca02c"
FONT = 12
CHAR_PX = 0.62 * FONT  # the same generous width per character as labels.py


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


def tick_text(v: float) -> str:
    """A number as people write it on an axis: never in exponent notation, no trailing zeros."""
    if abs(v) < 1e-12:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(v))))
    return f"{v:.{decimals}f}".rstrip("0").rstrip(".")


def _padded(lo: float, hi: float, log: bool) -> tuple[float, float]:
    if log:
        return lo / 1.3, hi * 1.3
    span = (hi - lo) or abs(hi) or 1.0
    return lo - 0.08 * span, hi + 0.08 * span


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass
class Chart:
    """An SVG chart, the labels it drew (for the no-overlap tests) and key lines listed under it."""

    svg: str
    placements: list[Placement] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    plot: Box | None = None


def _open(title: str, h: float, w: float = W) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}" '
        f'role="img" font-family="system-ui,sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<text x="{w / 2}" y="18" text-anchor="middle" font-weight="bold" font-size="14">{escape(title)}</text>',
    ]


def _x_axis(x: Axis, top: float, bottom: float, label: str) -> list[str]:
    out = []
    for t in x.ticks():
        px = x(t)
        out.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="#eee"/>'
            f'<text x="{px:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11">{tick_text(t)}</text>'
        )
    out.append(
        f'<text x="{(x.a + x.b) / 2:.1f}" y="{bottom + 34}" text-anchor="middle" font-size="12">{escape(label)}</text>'
    )
    return out


def _y_axis(y: Axis, left: float, right: float, label: str) -> list[str]:
    out = []
    for t in y.ticks():
        py = y(t)
        out.append(
            f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">{tick_text(t)}</text>'
        )
    mid = (y.a + y.b) / 2
    out.append(
        f'<text transform="translate(16 {mid:.1f}) rotate(-90)" text-anchor="middle" font-size="12">{escape(label)}</text>'
    )
    return out


@dataclass(frozen=True)
class LatencyPoint:
    """One artifact in the accuracy-against-latency chart."""

    label: str
    ms: float  # the estimate's latency (or the host p50 when there is no estimate)
    accuracy: float
    on_front: bool
    low_ms: float | None = None  # the estimate's error band
    high_ms: float | None = None
    device_ms: float | None = None  # measured on a real device, when there is one


def latency_accuracy_chart(points: list[LatencyPoint], title: str, x_label: str, y_label: str) -> Chart:
    """Accuracy against latency: error bars for the estimate's band, a hollow diamond for a device
    measurement joined to its estimate, the Pareto front as a dashed red step line."""
    # Many artifacts get the page's full width and more height, so that their labels find room.
    w, h = (W, 400) if len(points) <= 8 else (2 * W + 16, 480)
    left, right, top, bottom = 64, w - 16, 30, h - 52
    xs = [v for p in points for v in (p.ms, p.low_ms, p.high_ms, p.device_ms) if v]
    accs = [p.accuracy for p in points]
    log = max(xs) / max(min(xs), 1e-9) > 4  # a spread-out cluster of fast artifacts reads better on log
    x = Axis(*_padded(min(xs), max(xs), log), left, right, log)
    y = Axis(*_padded(min(accs), max(accs), False), bottom, top)
    obstacles: list[Box] = []
    out = _open(title, h, w)
    out.append(
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#999"/>'
    )
    out += _x_axis(x, top, bottom, x_label + (", log scale" if log else ""))
    out += _y_axis(y, left, right, y_label)
    front = sorted((p for p in points if p.on_front), key=lambda p: p.ms)
    if len(front) > 1:
        path = " ".join(f"{x(p.ms):.1f},{y(p.accuracy):.1f}" for p in front)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{FRONT}" stroke-width="1.5" stroke-dasharray="6 3"/>'
        )
    centres = []
    for p in points:
        cx, cy = x(p.ms), y(p.accuracy)
        colour = FRONT if p.on_front else OTHER
        if p.low_ms is not None and p.high_ms is not None:
            a, b = x(p.low_ms), x(p.high_ms)
            obstacles.append(Box(a - 1, cy - 5, b + 1, cy + 5))
            out.append(
                f'<g class="error-bar" stroke="{colour}" stroke-width="1.5"><line x1="{a:.1f}" y1="{cy:.1f}" x2="{b:.1f}" y2="{cy:.1f}"/>'
                f'<line x1="{a:.1f}" y1="{cy - 5:.1f}" x2="{a:.1f}" y2="{cy + 5:.1f}"/>'
                f'<line x1="{b:.1f}" y1="{cy - 5:.1f}" x2="{b:.1f}" y2="{cy + 5:.1f}"/></g>'
            )
        if p.device_ms is not None:
            dx = x(p.device_ms)
            obstacles += [Box(dx - 7, cy - 7, dx + 7, cy + 7), Box(min(cx, dx), cy - 1, max(cx, dx), cy + 1)]
            out.append(
                f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{dx:.1f}" y2="{cy:.1f}" stroke="{DEVICE}" stroke-dasharray="2 2"/>'
                f'<path class="device" d="M{dx:.1f} {cy - 7:.1f}L{dx + 7:.1f} {cy:.1f}L{dx:.1f} {cy + 7:.1f}L{dx - 7:.1f} {cy:.1f}Z" '
                f'fill="#fff" stroke="{DEVICE}" stroke-width="2"><title>{escape(p.label)}: measured on the device '
                f"{tick_text(p.device_ms)} ms</title></path>"
            )
        band = "" if p.low_ms is None else f" ({tick_text(p.low_ms)}–{tick_text(p.high_ms or p.ms)} ms)"
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}"><title>{escape(p.label)}: '
            f"{tick_text(p.ms)} ms{band}, {p.accuracy:.3f}</title></circle>"
        )
        centres.append((cx, cy))
    plot = Box(left + 1, top + 1, right - 1, bottom - 1)
    placements = place_labels(
        centres, [p.label for p in points], plot, marker_radius=6.0, font_size=FONT, obstacles=obstacles
    )
    key = []
    for pl in placements:
        colour = FRONT if points[pl.index].on_front else OTHER
        if pl.anchor and pl.leader:  # a label away from its point: a thin line to the nearest edge of its box
            box = text_box(pl.text, pl.x, pl.y, pl.anchor, pl.font_size)
            cx, cy = centres[pl.index]
            ex, ey = min(max(cx, box.x0), box.x1), min(max(cy, box.y0), box.y1)
            out.append(
                f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke="{colour}" stroke-width="0.8"/>'
            )
        if pl.anchor:
            out.append(
                f'<text class="point-label" x="{pl.x:.1f}" y="{pl.y:.1f}" font-size="{pl.font_size:g}" '
                f'fill="{colour}" text-anchor="{pl.anchor}">{escape(pl.text)}</text>'
            )
        if pl.numbered:
            p = points[pl.index]
            key.append(f"{pl.text}: {p.label} ({tick_text(p.ms)} ms, {p.accuracy:.3f})")
    key.sort(key=lambda k: int(k.split(":", 1)[0]))  # 1, 2, 3 as the numbers were handed out
    return Chart("\n".join(out + ["</svg>"]), placements, key, plot)


def _label_width(labels: list[str]) -> float:
    return min(max((len(_short(t)) for t in labels), default=4) * CHAR_PX + 12, 250)


def bar_chart(title: str, items: list[tuple[str, float]], value_label: str, unit: str = "") -> Chart:
    """Horizontal bars, one row per (label, value)."""
    left = _label_width([t for t, _ in items]) + 8
    top, h = 30, 30 + ROW * len(items) + 48
    x = Axis(0.0, max(v for _, v in items) * 1.18 or 1.0, left, W - 16)
    out = _open(title, h)
    out += _x_axis(x, top, top + ROW * len(items), value_label)
    for i, (label, v) in enumerate(items):
        row = top + i * ROW
        out.append(
            f'<rect x="{x(0):.1f}" y="{row + 4:.1f}" width="{max(x(v) - x(0), 1):.1f}" height="{ROW - 8}" fill="{OTHER}"/>'
            f'<text x="{left - 6:.1f}" y="{row + ROW / 2 + 4:.1f}" text-anchor="end" font-size="{FONT}">'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
            f'<text x="{x(v) + 4:.1f}" y="{row + ROW / 2 + 4:.1f}" font-size="11">{tick_text(v)}{unit}</text>'
        )
    return Chart("\n".join(out + ["</svg>"]))


def limit_chart(
    title: str, items: list[tuple[str, float | None]], limit: float | None, unit: str, limit_text: str
) -> Chart:
    """Bars against a limit (already in UNIT): a red dashed line at the limit, bars over it in red.

    A limit far beyond every bar would squash the bars to slivers, so then the axis stops at the
    bars and the limit is written at the right edge with how many times the largest bar it is."""
    values = [v for _, v in items if v is not None]
    biggest = max(values, default=1.0) or 1.0
    on_scale = limit is not None and limit <= biggest * 3
    left = _label_width([t for t, _ in items]) + 8
    top, h = 30, 30 + ROW * len(items) + 64
    hi = max(biggest, limit if (on_scale and limit is not None) else 0.0) * 1.18
    x = Axis(0.0, hi, left, W - 16)
    bottom = top + ROW * len(items)
    out = _open(title, h)
    out += _x_axis(x, top, bottom, unit)
    for i, (label, v) in enumerate(items):
        row = top + i * ROW
        name = (
            f'<text x="{left - 6:.1f}" y="{row + ROW / 2 + 4:.1f}" text-anchor="end" font-size="{FONT}">'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
        )
        if v is None:
            out.append(
                name
                + f'<text x="{left + 4:.1f}" y="{row + ROW / 2 + 4:.1f}" font-size="11" fill="#888">no estimate</text>'
            )
            continue
        over = limit is not None and v > limit
        out.append(
            name
            + f'<rect class="{"over" if over else "under"}" x="{x(0):.1f}" y="{row + 4:.1f}" width="{max(x(v) - x(0), 1):.1f}" '
            f'height="{ROW - 8}" fill="{LIMIT if over else OTHER}"/>'
            f'<text x="{x(v) + 4:.1f}" y="{row + ROW / 2 + 4:.1f}" font-size="11">{tick_text(v)}</text>'
        )
    if limit is not None and on_scale:
        lx = x(limit)
        out.append(
            f'<line class="limit" x1="{lx:.1f}" y1="{top - 4}" x2="{lx:.1f}" y2="{bottom + 4}" stroke="{LIMIT}" '
            f'stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{W - 16}" y="{bottom + 50}" text-anchor="end" font-size="11" fill="{LIMIT}">'
            f"dashed line: {escape(limit_text)}</text>"
        )
    elif limit is not None:
        out.append(
            f'<text class="limit" x="{W - 16}" y="{bottom + 50}" text-anchor="end" font-size="11" fill="{ACCENT}">'
            f"{escape(limit_text)}: {limit / biggest:,.0f}× the largest, off this scale</text>"
        )
    else:
        out.append(
            f'<text x="{W - 16}" y="{bottom + 50}" text-anchor="end" font-size="11" fill="{ACCENT}">'
            "the profile sets no limit</text>"
        )
    return Chart("\n".join(out + ["</svg>"]))


def box_chart(title: str, items: list[tuple[str, dict[str, float]]]) -> Chart:
    """Horizontal box plots; each item's dict has p1, p25, p50, p75, p99 (ms)."""
    lo = min(s["p1"] for _, s in items)
    hi = max(s["p99"] for _, s in items)
    log = hi / max(lo, 1e-9) > 20
    left = _label_width([t for t, _ in items]) + 8
    top, h = 30, 30 + ROW * len(items) + 48
    x = Axis(*_padded(lo, hi, log), left, W - 16, log)
    out = _open(title, h)
    out += _x_axis(
        x,
        top,
        top + ROW * len(items),
        "ms" + (", log scale" if log else "") + "; whiskers p1–p99, box p25–p75, line p50",
    )
    for i, (label, s) in enumerate(items):
        mid = top + (i + 0.5) * ROW
        half = ROW * 0.3
        out.append(
            f'<line x1="{x(s["p1"]):.1f}" y1="{mid:.1f}" x2="{x(s["p99"]):.1f}" y2="{mid:.1f}" stroke="{ACCENT}"/>'
            f'<rect x="{x(s["p25"]):.1f}" y="{mid - half:.1f}" width="{max(x(s["p75"]) - x(s["p25"]), 1):.1f}" '
            f'height="{2 * half:.1f}" fill="#aec7e8" stroke="{ACCENT}"/>'
            f'<line x1="{x(s["p50"]):.1f}" y1="{mid - half:.1f}" x2="{x(s["p50"]):.1f}" y2="{mid + half:.1f}" stroke="{FRONT}" stroke-width="2"/>'
            f'<text x="{left - 6:.1f}" y="{mid + 4:.1f}" text-anchor="end" font-size="{FONT}">'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
        )
    return Chart("\n".join(out + ["</svg>"]))
