"""report.html built for decisions: accuracy against the target estimate with error bars, memory
against the profile's limits, device latency, confusion matrix, int8 attribution by Keras layer,
the cross-target page, one unit system, and labels that never overlap."""

from __future__ import annotations

import itertools
import re

import pytest
from synthetic import make_report, rich_report

from edgekit.report.cross_target import html_page
from edgekit.report.html import render_html
from edgekit.report.labels import Box, drawn_boxes, place_labels, text_box
from edgekit.report.markdown import render_markdown
from edgekit.report.svg import LatencyPoint, latency_accuracy_chart, tick_text

POINT_LABEL = re.compile(
    r'<text class="point-label" x="([\d.]+)" y="([\d.]+)" font-size="([\d.]+)" fill="[^"]+" '
    r'text-anchor="(start|end)">([^<]*)</text>'
)


def _boxes_in(svg: str) -> list[Box]:
    """The label boxes as drawn: recomputed from the <text> elements of the SVG itself."""
    return [
        text_box(t.replace("&amp;", "&"), float(x), float(y), anchor, float(fs))
        for x, y, fs, anchor, t in POINT_LABEL.findall(svg)
    ]


def _disjoint(boxes: list[Box]) -> bool:
    return not any(a.intersects(b) for a, b in itertools.combinations(boxes, 2))


@pytest.mark.parametrize("n", [1, 5, 20, 60])
def test_labels_never_overlap_even_when_every_point_is_in_the_same_place(n):
    bounds = Box(60, 30, 580, 350)
    points = [(300.0, 200.0)] * n  # the worst case: identical latency and accuracy
    texts = [f"format{i}-dynamic-int8" for i in range(n)]
    placements = place_labels(points, texts, bounds)
    assert sorted(p.index for p in placements) == list(range(n))  # every point labelled or numbered
    boxes = drawn_boxes(placements)
    assert _disjoint(boxes) and all(b.inside(bounds) for b in boxes)
    marker = Box(294, 194, 306, 206)
    assert not any(b.intersects(marker) for b in boxes)
    numbered = [p for p in placements if p.numbered]
    assert len({p.text for p in numbered}) == len(numbered)  # numbers are unique keys
    assert place_labels(points, texts, bounds) == placements  # deterministic


def test_labels_avoid_error_bars_and_device_markers_and_numbered_points_are_listed():
    points = [
        LatencyPoint(f"fmt{i % 5}-quant{i}", 10 + (i % 4), 0.9 if i % 2 else 0.88, i < 3, 7.0, 15.0, 12.0)
        for i in range(20)
    ]
    chart = latency_accuracy_chart(points, "t", "ms", "accuracy")
    boxes = _boxes_in(chart.svg)
    assert boxes and _disjoint(boxes)
    assert chart.plot is not None and all(b.inside(chart.plot) for b in boxes)
    drawn = {t for *_, t in POINT_LABEL.findall(chart.svg)}
    numbered = [p for p in chart.placements if p.numbered]
    assert len(chart.key) == len(numbered)
    for p in chart.placements:  # each point is named inline or in the key under the plot
        if p.numbered:
            assert any(k.startswith(f"{p.text}: {points[p.index].label} ") for k in chart.key)
        else:
            assert p.text == points[p.index].label and p.text in drawn


@pytest.mark.parametrize("n", [3, 20])
def test_report_labels_never_overlap(n):
    html = render_html(rich_report(n))
    boxes = _boxes_in(html)
    assert len(boxes) >= min(n, 3) and _disjoint(boxes)


def test_accuracy_against_estimate_with_error_bars_and_device_latency():
    report = rich_report(20)
    html = render_html(report)
    assert "Accuracy against estimated latency on rpi4" in html
    assert html.count('class="error-bar"') == 20  # every artifact's band
    assert html.count('class="device"') == 2  # tflite fp32 and int8 were measured on a device
    assert "Green diamonds" in html
    del report["artifacts"][0]["estimate"]
    assert "Not drawn (no estimate or accuracy): tflite-fp32" in render_html(report)


def test_without_any_estimate_the_chart_says_it_is_host_latency():
    html = render_html(make_report())
    assert "Accuracy against host latency (no target estimate)" in html
    assert 'class="error-bar"' not in html and "Peak RAM (estimated): no estimate" in html


def test_ram_and_flash_against_the_profiles_limits():
    report = rich_report(3, target="mcu-m7")
    report["artifacts"][0]["estimate"]["peak_ram_bytes"] = 700 * 1024  # over the 512 KiB arena
    html = render_html(report)
    ram = html[html.index("Peak RAM (estimated)") : html.index("Flash / storage")]
    assert ram.count('class="limit"') == 1 and "mcu-m7 RAM for one model 512.0 KiB" in ram
    assert ram.count('class="over"') == 1 and ram.count('class="under"') == 2
    flash = html[html.index("Flash / storage") :]
    assert "mcu-m7 flash 2.0 MiB" in flash


def test_a_limit_far_beyond_the_bars_is_written_not_drawn():
    html = render_html(rich_report(20))  # 4 GiB of RAM against MiB-sized models
    assert "rpi4 RAM for one model 4.0 GiB: 199× the largest, off this scale" in html


def test_an_older_report_gets_the_limits_from_the_builtin_profile():
    report = rich_report(3)
    for key in ("ram_bytes", "flash_bytes", "storage_bytes"):
        del report["target"][key]
    assert "rpi4 RAM for one model 4.0 GiB" in render_html(report)


def test_one_unit_system_in_table_charts_and_markdown():
    report = rich_report(20)
    for text in (render_html(report), render_markdown(report), html_page([("rpi4", report)])):
        assert not re.search(r"\d (KB|MB|GB)\b", text), "decimal-looking units"
        assert "MiB" in text
        assert not re.search(r">[-\d.,]+e[+-]?\d+<", text), "a number in exponent notation"
    html = render_html(report)
    assert "8.6 MiB" in html and ">MiB</text>" in html  # the table's unit is the chart axis's unit


def test_tick_text_never_uses_exponents():
    assert [tick_text(v) for v in (1560.0, 0.000125, 12.5, 0.0, 2.0, 250000.0)] == [
        "1,560",
        "0.000125",
        "12.5",
        "0",
        "2",
        "250,000",
    ]


def test_confusion_matrix():
    html = render_html(rich_report(3))
    table = html[html.index('<table class="cm">') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 5 and table.count("<td ") == 16 and ">29</td>" in table
    assert "rgba(31,119,180,0.97)" in table  # checker: 29 of 30 right, the darkest cell


def test_int8_attribution_by_keras_layer_in_html_and_markdown():
    report = rich_report(3)
    html, md = render_html(report), render_markdown(report)
    assert "tflite-int8: int8 error by layer" in html and "features + outlier_block" in html
    assert "keep_float: [features, outlier_block]" in html
    assert "non-zero values int8 rounds to zero" in html
    assert "Relu6;Conv2D (TFLite op, no Keras name)" in md
    assert "| features + outlier\\_block | 94% | 0.91 |" in md
    assert "    keep_float: [features, outlier_block]" in md
    # a report with no attribution has no such section
    assert "loses accuracy" not in render_html(make_report())


def test_cross_target_page_has_the_table_and_one_chart_per_target():
    page = html_page([("rpi4", rich_report(3)), ("mcu-m7", rich_report(3, target="mcu-m7"))])
    assert page.count("<tr>") == 1 + 6
    assert "Accuracy against estimated latency on rpi4" in page
    assert "Accuracy against estimated latency on mcu-m7" in page
    assert 'href="mcu-m7/report.html"' in page and "<script" not in page
