"""report.md as GitHub renders it: parsed by markdown-it-py (CommonMark + GFM tables), the same
grammar GitHub's renderer implements, so a row that would break on GitHub breaks here."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt
from synthetic import artifact_row, make_report, model_bytes

from edgekit.report.markdown import md_inline, render_markdown
from edgekit.report.rows import columns_for, display_row

NASTY_ERRORS = [
    'ConversionError: tf2onnx failed\n  File "<frozen runpy>", line 88, in _run_code\n\n  ValueError: shape | mismatch',
    "op `FusedBatchNormV3;Conv2D291` has *no* int16x8 kernel_ [see](http://x) a|b & c \\ d ~~e~~ <b>f</b>",
    "windows\r\nline\rendings",
]


def _gfm() -> MarkdownIt:
    # GitHub's flavour: tables and strikethrough on; linkify needs an extra package and does not
    # change how a table splits into cells.
    return MarkdownIt("gfm-like", {"linkify": False})


def _cell_text(inline) -> str:
    """What a reader sees in a cell: text, with <br> as a line break."""
    out = []
    for tok in inline.children or []:
        if (tok.type == "html_inline" and tok.content.lower().startswith("<br")) or tok.type in (
            "softbreak",
            "hardbreak",
        ):
            out.append("\n")
        else:
            out.append(tok.content)
    return "".join(out)


def _tables(md: str) -> list[list[list[str]]]:
    """Every table in MD as rows of cell texts (the header row first)."""
    tables, rows, row, inside = [], None, None, False
    tokens = _gfm().parse(md)
    for _i, tok in enumerate(tokens):
        if tok.type == "table_open":
            rows = []
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("th_open", "td_open"):
            inside = True
        elif tok.type == "inline" and inside:
            row.append(_cell_text(tok))
            inside = False
        elif tok.type in ("th_close", "td_close") and inside:  # an empty cell has no inline token
            row.append("")
            inside = False
        elif tok.type == "tr_close":
            rows.append(row)
        elif tok.type == "table_close":
            tables.append(rows)
    return tables


def _seen(text: str) -> str:
    """The text a reader should see: each line stripped, empty lines dropped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.strip() for line in lines if line.strip())


def _failed_row(error: str, quant: str) -> dict:
    return {
        "format": "onnx",
        "quant": quant,
        "status": "failed",
        "error": error,
        "notes": [],
        "parity": None,
        "bench": None,
        "estimate": None,
        "artifact": None,
    }


def test_report_md_is_one_table_with_one_row_per_artifact_and_the_exact_cell_texts():
    rows = [artifact_row("tflite", "fp32", model_bytes("fp32"), 2.0, 0.9, seed=1)]
    rows += [_failed_row(err, q) for err, q in zip(NASTY_ERRORS, ("int8", "fp16", "dynamic-int8"))]
    report = make_report(rows)
    report["artifacts"][0]["estimate"] = {"latency_ms": 3.0, "verdict": "fits | with <margin>"}
    tables = _tables(render_markdown(report))
    assert len(tables) == 1
    header, *body = tables[0]
    columns = columns_for(report)
    assert header == list(columns) and "max |err|" in header
    assert len(body) == len(rows)
    for got, a in zip(body, report["artifacts"]):
        want = display_row(a)
        assert got == [_seen(want[c]) for c in columns]
    assert body[1][columns.index("status")].startswith(
        'failed: ConversionError: tf2onnx failed\nFile "<frozen runpy>"'
    )


def test_header_pipes_render_as_one_column_each():
    md = render_markdown(make_report())
    header_line = next(line for line in md.splitlines() if line.startswith("| format"))
    assert "max \\|err\\|" in header_line
    assert _tables(md)[0][0].count("max |err|") == 1


def test_parity_notes_and_header_text_stay_literal():
    report = make_report()
    report["artifacts"][1]["parity"]["reasons"] = ["top-1 agreement 0.80 < 0.95\nworst: *conv* | `x`"]
    report["host"]["cpu"] = "AMD <EPYC> | 7B13"
    html = _gfm().render(render_markdown(report))
    assert "top-1 agreement 0.80 &lt; 0.95<br>worst: *conv* | `x`" in html
    assert "AMD &lt;EPYC&gt; | 7B13" in html and "<em>" not in html and "<code>x</code>" not in html


@pytest.mark.parametrize(
    "text", ["a|b", "x\ny", "*a* _b_", "<script>", "`c`", "[l](u)", "\\", "&amp;", "~~s~~", "![i](u)"]
)
def test_md_inline_round_trips_through_a_gfm_renderer(text):
    tables = _tables(f"| h |\n|---|\n| {md_inline(text)} |\n")
    assert tables == [[["h"], [_seen(text)]]]
