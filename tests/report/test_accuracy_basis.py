"""The parity table's accuracy (measured on the parity images) cannot be confused with the
reference's test accuracy (measured on the whole test split): it is labelled, and the reference's
accuracy on the same images stands beside it."""

from __future__ import annotations

from synthetic import make_report

from edgekit.report.html import render_html
from edgekit.report.markdown import render_markdown
from edgekit.report.rows import ACCURACY, accuracy_basis, display_row
from edgekit.report.summary import print_summary


def _report():
    report = make_report()
    report["reference"]["test_accuracy"] = 0.875
    report["reference"]["health"] = {"test_images": 120, "flags": []}
    for a in report["artifacts"]:
        a["parity"].update(samples=24, reference_accuracy=0.958)
    return report


def test_each_accuracy_names_its_images():
    report = _report()
    basis = accuracy_basis(report)
    assert basis.startswith("reference test accuracy 0.875 on 120 test images; ")
    assert (
        "accuracy on the 24 parity images" in basis
        and "the reference's accuracy on the same images in brackets" in basis
    )
    assert display_row(report["artifacts"][0])[ACCURACY] == "0.900 (0.958)"


def test_md_html_and_summary_carry_the_labelled_figures(tmp_path, capsys):
    report = _report()
    md, html = render_markdown(report), render_html(report)
    assert "parity-set accuracy (ref)" in md and "0.900 (0.958)" in md and "on 120 test images" in md
    assert "parity-set accuracy (ref)" in html and "0.900 (0.958)" in html and "24 parity images" in html
    print_summary(report, tmp_path)
    out = " ".join(capsys.readouterr().out.split())
    assert "reference test accuracy 0.875 on 120 test images" in out and "24 parity images" in out


def test_reports_without_the_newer_fields_still_render():
    report = make_report()
    del report["artifacts"][0]["parity"]["reference_accuracy"]
    report["artifacts"][1]["parity"] = None
    assert accuracy_basis(report).startswith("reference test accuracy 0.900 on the test split; ")
    assert display_row(report["artifacts"][0])[ACCURACY] == "0.900"
    assert display_row(report["artifacts"][1])[ACCURACY] == "-"
