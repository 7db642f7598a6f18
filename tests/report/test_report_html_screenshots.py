"""Screenshots of report.html in headless Chromium: a small run and a 20-artifact run.

The PNGs must exist, have the window's size and not be blank (a white page of the same size,
rendered the same way, is the control). With EDGEKIT_RECORD_FIGURES=1 they are copied to
docs/img/report-small.png and docs/img/report-20.png, the pictures docs/reports.md shows.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from synthetic import rich_report

from edgekit.report.html import render_html

CHROMIUM = Path("/usr/bin/chromium")
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
WIDTH, HEIGHT = 1280, 2400

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed at /usr/bin/chromium (scripts/setup.sh installs it)",
)


def _screenshot(page: Path, shot: Path, tmp: Path) -> None:
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={tmp / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_report_screenshots_small_and_20_artifacts(tmp_path):
    blank_page, blank = tmp_path / "blank.html", tmp_path / "blank.png"
    blank_page.write_text("<!DOCTYPE html><html><body></body></html>")
    _screenshot(blank_page, blank, tmp_path)
    assert blank.is_file(), "Chromium wrote no screenshot at all"

    shots = {}
    for name, report in (("small", rich_report(3, target="mcu-m7")), ("20", rich_report(20))):
        page, shot = tmp_path / f"report-{name}.html", tmp_path / f"report-{name}.png"
        page.write_text(render_html(report))
        _screenshot(page, shot, tmp_path)
        assert shot.is_file(), f"no screenshot of the {name} report"
        assert _png_size(shot) == (WIDTH, HEIGHT)
        # Charts, tables and text compress far worse than white (measured: 14 KiB blank, 210+ KiB drawn).
        assert shot.stat().st_size > 5 * blank.stat().st_size, (shot.stat().st_size, blank.stat().st_size)
        shots[name] = shot
    assert shots["20"].stat().st_size > shots["small"].stat().st_size  # twenty rows draw more

    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        DOCS_IMG.mkdir(exist_ok=True)
        for name, shot in shots.items():
            shutil.copy(shot, DOCS_IMG / f"report-{name}.png")
