"""Deterministic placement of point labels in the report's charts, so that no two labels overlap.

Each label tries a fixed list of spots around its point (right, left, above, below, the four
diagonals, then the same spots further out) and takes the first whose box stays inside the plot
and meets no label placed before it and no point marker. Points are visited in a fixed order
(top to bottom, then left to right, then by name), so the same report always draws the same way.
A label with no free spot is not drawn beside its point: the point gets a number instead (placed
the same way) and the chart lists "number: label" under the plot, where lines cannot collide. If
even the number finds no spot, the point keeps only its tooltip and its key entry.

Text boxes are estimated from the character count with a width per character on the generous
side for sans-serif fonts, so a box computed here is at least as large as the text the browser
draws and "the boxes do not intersect" implies "the drawn labels do not overlap".
"""

from __future__ import annotations

from dataclasses import dataclass

CHAR_WIDTH_EM = 0.62  # wider than the average glyph of system-ui/DejaVu Sans at the sizes used here
ASCENT_EM, DESCENT_EM = 0.95, 0.3


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def intersects(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, bounds: Box) -> bool:
        return self.x0 >= bounds.x0 and self.x1 <= bounds.x1 and self.y0 >= bounds.y0 and self.y1 <= bounds.y1


@dataclass(frozen=True)
class Placement:
    """A label drawn at (x, y) as an SVG <text> with text-anchor ANCHOR (its baseline at y)."""

    index: int  # the point's position in the input list
    text: str
    x: float
    y: float
    anchor: str  # "start" or "end"
    font_size: float
    numbered: bool  # True: TEXT is the point's number; the full label is in the chart's key
    leader: bool = False  # placed away from its point: the chart joins the two with a thin line


def text_box(text: str, x: float, y: float, anchor: str, font_size: float) -> Box:
    """The box an SVG <text> at (x, y) with this anchor covers (y is the baseline)."""
    width = len(text) * CHAR_WIDTH_EM * font_size
    x0 = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    return Box(x0, y - ASCENT_EM * font_size, x0 + width, y + DESCENT_EM * font_size)


def _spots(px: float, py: float, gap: float, font_size: float) -> list[tuple[float, float, str, bool]]:
    """Candidate (x, baseline y, anchor, needs a leader line) around a point, nearest first."""
    mid = font_size * 0.35  # baseline that centres the text vertically on the point
    up, down = -gap - DESCENT_EM * font_size, gap + ASCENT_EM * font_size
    spots = []
    for k in (1.0, 2.0, 3.0):
        g = gap * k
        far = k > 1.0
        spots += [
            (px + g, py + mid, "start", far),
            (px - g, py + mid, "end", far),
            (px - gap * 0.5, py + up * k, "start", far),
            (px - gap * 0.5, py + down * k, "start", far),
            (px + gap * 0.5, py + up * k, "end", far),
            (px + gap * 0.5, py + down * k, "end", far),
            (px + g, py + up * k, "start", far),
            (px + g, py + down * k, "start", far),
            (px - g, py + up * k, "end", far),
            (px - g, py + down * k, "end", far),
        ]
    return spots


def place_labels(
    points: list[tuple[float, float]],
    texts: list[str],
    bounds: Box,
    marker_radius: float = 6.0,
    font_size: float = 12.0,
    obstacles: list[Box] | None = None,
) -> list[Placement]:
    """One placement per point that could be labelled (inline or by number); see the module doc.

    OBSTACLES: other marks labels must not cover (error bars, device markers)."""
    markers = [
        Box(x - marker_radius, y - marker_radius, x + marker_radius, y + marker_radius) for x, y in points
    ] + list(obstacles or [])
    order = sorted(
        range(len(points)), key=lambda i: (round(points[i][1], 3), round(points[i][0], 3), texts[i])
    )
    taken: list[Box] = []
    placed: list[Placement] = []
    number = 0
    for i in order:
        px, py = points[i]
        spot = _free_spot(px, py, texts[i], font_size, bounds, taken, markers, marker_radius)
        if spot is not None:
            x, y, anchor, box, far = spot
            taken.append(box)
            placed.append(Placement(i, texts[i], x, y, anchor, font_size, numbered=False, leader=far))
            continue
        number += 1
        small = font_size * 0.9
        spot = _free_spot(px, py, str(number), small, bounds, taken, markers, marker_radius)
        if spot is not None:
            x, y, anchor, box, far = spot
            taken.append(box)
        # A number that found no spot is still a number: its key entry names the point.
        placed.append(
            Placement(
                i,
                str(number),
                x if spot else px,
                y if spot else py,
                anchor if spot else "",
                small,
                numbered=True,
                leader=bool(spot and spot[4]),
            )
        )
    return sorted(placed, key=lambda p: p.index)


def _free_spot(
    px: float,
    py: float,
    text: str,
    font_size: float,
    bounds: Box,
    taken: list[Box],
    markers: list[Box],
    gap: float,
) -> tuple[float, float, str, Box, bool] | None:
    for x, y, anchor, far in _spots(px, py, gap + 3, font_size):
        box = text_box(text, x, y, anchor, font_size)
        if (
            box.inside(bounds)
            and not any(box.intersects(b) for b in taken)
            and not any(box.intersects(m) for m in markers)
        ):
            return x, y, anchor, box, far
    return None


def drawn_boxes(placements: list[Placement]) -> list[Box]:
    """The boxes of the labels that are drawn in the plot (numbers without a spot are not drawn)."""
    return [text_box(p.text, p.x, p.y, p.anchor, p.font_size) for p in placements if p.anchor]
