"""report.md / report.html / schema, and the HTML opened in headless Chromium."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from synthetic import make_report, write_run_dir

from edgekit.cli import main
from edgekit.report.html import render_html
from edgekit.report.markdown import render_markdown
from edgekit.report.pareto import pareto_front
from edgekit.report.schema import report_schema, schema_errors

CHROMIUM = Path("/usr/bin/chromium")


def test_pareto_front():
    # (latency, accuracy): b is dominated by a (faster and as accurate); c is slower but more accurate
    assert pareto_front([(1.0, 0.9), (2.0, 0.9), (3.0, 0.95), (1.0, 0.9)]) == [True, False, True, True]


def test_markdown_adds_estimate_columns_only_when_present():
    report = make_report()
    assert "est. target" not in render_markdown(report)
    report["artifacts"][1]["estimate"] = {"latency_ms": 12.5, "verdict": "fits"}
    md = render_markdown(report)
    assert "| est. target | target verdict |" in md and "| 12.50 ms | fits |" in md


def test_schema_accepts_reports_and_names_the_bad_field():
    report = make_report()
    assert schema_errors(report, report_schema()) == []
    report["artifacts"][0]["artifact"]["inputs"][0]["zero_point"] = "x"
    assert schema_errors(report, report_schema()) == [
        "$.artifacts[0].artifact.inputs[0].zero_point: expected ['integer', 'null'], got str"
    ]


def test_html_is_self_contained_with_three_plots():
    html = render_html(make_report())
    assert (
        html.count("<svg") == 3
        and "Pareto front" in html
        and "Flash / storage" in html
        and "latency distribution" in html
    )
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_report_cli_writes_requested_formats(tmp_path):
    run = write_run_dir(tmp_path)
    assert main(["report", str(run), "--format", "html"]) == 0
    assert (run / "report.html").is_file() and not (run / "report.md").exists()
    assert main(["report", str(run)]) == 0 and (run / "report.md").is_file()
    assert main(["report", str(run), "--format", "pdf"]) == 2


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or ("CONSOLE" in line and ("ERROR" in line or "error" in line))
    ]


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed at /usr/bin/chromium (apt-get install chromium)",
)
def test_html_in_headless_chromium_has_no_console_errors_and_shows_plots(tmp_path):
    # Control: prove the console-error detection works, so a clean result below means something.
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><script>console.error('edgekit-probe'); undefinedFn();</script></body></html>"
    )
    assert _console_errors(_chromium(["--dump-dom", bad.as_uri()], tmp_path).stderr), (
        "console error detection is broken"
    )

    page = tmp_path / "report.html"
    page.write_text(render_html(make_report()))
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert _console_errors(dom.stderr) == []
    assert dom.stdout.count("<svg") == 3  # the browser parsed all three plots
    shot = tmp_path / "report.png"
    _chromium(
        [f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars", page.as_uri()], tmp_path
    )
    assert shot.stat().st_size > 20_000  # a page with plots, not a blank one
    if os.environ.get(
        "EDGEKIT_SCREENSHOT"
    ):  # keep a copy to look at: EDGEKIT_SCREENSHOT=/tmp/shot.png pytest ...
        shutil.copy(shot, os.environ["EDGEKIT_SCREENSHOT"])
