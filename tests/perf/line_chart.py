"""Line charts on log-log axes as hand-written SVG, for the perf figures in the docs.

The axes and their tick labels are edgekit/report/svg.py's (Axis, tick_text), so these charts read
like the ones in report.html. Panels are stacked one above the other on one shared x axis, with
one legend above them; named x positions (the models of a sweep) are dashed verticals in every
panel, their names written upright in a band under the last one.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from edgekit.report.svg import Axis, tick_text

W = 640
PANEL_H = 290
LEFT, RIGHT, TOP_PAD, BOTTOM_PAD = 70, 20, 30, 48
NOTE_CHARS = 88  # a note's line length in characters at font-size 12
NAME_CHAR_PX = 6.2  # width of a character at font-size 10
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]  # (x, y), both positive


@dataclass
class Panel:
    title: str
    y_label: str
    series: list[Series] = field(default_factory=list)


def _panel(
    panel: Panel, top: float, x: Axis, x_label: str, names: Sequence[tuple[float, str]], colors
) -> list[str]:
    ys = [y for s in panel.series for _, y in s.points]
    plot_top, plot_bottom = top + TOP_PAD, top + PANEL_H - BOTTOM_PAD
    y = Axis(min(ys, default=1) / 1.4, max(ys, default=1) * 1.4, plot_bottom, plot_top, log=True)
    out = [
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{top + 18}" text-anchor="middle" font-size="13" '
        f'font-weight="bold">{escape(panel.title)}</text>'
    ]
    for t in x.ticks():
        px = x(t)
        out.append(
            f'<line x1="{px:.1f}" y1="{plot_top}" x2="{px:.1f}" y2="{plot_bottom}" stroke="#eee"/>'
            f'<text x="{px:.1f}" y="{plot_bottom + 15}" text-anchor="middle" font-size="11">{tick_text(t)}</text>'
        )
    for t in y.ticks():
        py = y(t)
        out.append(
            f'<line x1="{LEFT}" y1="{py:.1f}" x2="{W - RIGHT}" y2="{py:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">{tick_text(t)}</text>'
        )
    out.extend(
        f'<line x1="{x(mx):.1f}" y1="{plot_top}" x2="{x(mx):.1f}" y2="{plot_bottom}" stroke="#bbb" '
        'stroke-dasharray="3 3"/>'
        for mx, _ in names
    )
    out.append(
        f'<rect x="{LEFT}" y="{plot_top}" width="{W - RIGHT - LEFT}" height="{plot_bottom - plot_top}" '
        f'fill="none" stroke="#999"/>'
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{plot_bottom + 34}" text-anchor="middle" '
        f'font-size="12">{escape(x_label)}</text>'
        f'<text transform="translate(18 {(plot_top + plot_bottom) / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" font-size="12">{escape(panel.y_label)}</text>'
    )
    if not ys:
        out.append(
            f'<text x="{W / 2}" y="{(plot_top + plot_bottom) / 2}" text-anchor="middle">no data</text>'
        )
    for s in panel.series:
        color = colors[s.name]
        pts = sorted(s.points)
        if len(pts) > 1:
            path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out.extend(
            f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3.5" fill="{color}">'
            f"<title>{escape(s.name)}: {tick_text(px)}, {tick_text(py)}</title></circle>"
            for px, py in pts
        )
    return out


def stacked_line_charts(
    title: str,
    x_label: str,
    panels: list[Panel],
    names: Sequence[tuple[float, str]] = (),
    notes: Sequence[str] = (),
) -> str:
    """One SVG: TITLE, a legend of every series, PANELS one above the other on one log x axis,
    NAMES (x, name) as dashed verticals named under the last panel, then NOTES (wrapped)."""
    notes = [line for note in notes for line in textwrap.wrap(note, NOTE_CHARS)]
    series_names = list(dict.fromkeys(s.name for p in panels for s in p.series))
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series_names)}
    xs = [px for p in panels for s in p.series for px, _ in s.points] + [mx for mx, _ in names]
    x = Axis(min(xs, default=1) / 1.25, max(xs, default=1) * 1.25, LEFT, W - RIGHT, log=True)
    legend_y = 44
    panels_top = legend_y + 16
    band = 10 + NAME_CHAR_PX * max((len(n) for _, n in names), default=0) if names else 0
    band_top = panels_top + PANEL_H * len(panels)
    height = round(band_top + band + 18 * len(notes) + 10)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" '
        'role="img" font-family="system-ui,sans-serif">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-weight="bold" font-size="14">{escape(title)}</text>',
    ]
    lx = LEFT
    for name in series_names:
        out.append(
            f'<line x1="{lx}" y1="{legend_y - 4}" x2="{lx + 22}" y2="{legend_y - 4}" stroke="{colors[name]}" '
            f'stroke-width="2"/><circle cx="{lx + 11}" cy="{legend_y - 4}" r="3.5" fill="{colors[name]}"/>'
            f'<text x="{lx + 28}" y="{legend_y}" font-size="12">{escape(name)}</text>'
        )
        lx += 40 + 7.5 * len(name)
    for i, panel in enumerate(panels):
        out.extend(_panel(panel, panels_top + i * PANEL_H, x, x_label, names, colors))
    out.extend(  # upright, reading downwards from the top of the band
        f'<text transform="translate({x(mx) - 3:.1f} {band_top + 2}) rotate(90)" font-size="10" '
        f'fill="#555">{escape(name)}</text>'
        for mx, name in names
    )
    for i, note in enumerate(notes):
        out.append(
            f'<text x="{LEFT}" y="{band_top + band + 14 + 18 * i:.0f}" font-size="12">{escape(note)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
