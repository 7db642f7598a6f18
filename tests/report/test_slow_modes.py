"""A quant mode slower than fp32 in its own runtime says so (summary, report.json/md/html), with the
reason when it is known, and no bundled target plan lists such a mode."""

from __future__ import annotations

import numpy as np
import pytest
from markdown_it import MarkdownIt
from synthetic import artifact_row, bench_entry, make_report, model_bytes

from edgekit.report.html import render_html
from edgekit.report.markdown import render_markdown
from edgekit.report.schema import report_schema, schema_errors
from edgekit.report.slow import SLOW_KERNELS, known_slow, mark_slow_modes, slow_notes
from edgekit.report.summary import print_summary


def _report(
    rows_ms: dict[str, float], runtime: str = "litert", fmt: str = "tflite", machine: str = "x86_64"
) -> dict:
    rows = []
    for i, (quant, ms) in enumerate(rows_ms.items()):
        row = artifact_row(fmt, quant, model_bytes(quant), ms, 0.9, seed=i + 1)
        row["bench"]["runtime"] = {"runtime": runtime, "threads": 2}
        rows.append(row)
    report = make_report(rows)
    report["host"]["machine"] = machine
    return mark_slow_modes(report)


def test_int16x8_slower_than_fp32_in_litert_says_so_with_the_reason():
    report = _report({"fp32": 0.31, "int8": 0.2, "int16x8": 28.0})
    by = {a["quant"]: a["slower_than_fp32"] for a in report["artifacts"]}
    assert by["fp32"] is None and by["int8"] is None
    slow = by["int16x8"]
    assert slow["runtime"] == "litert" and slow["ratio"] > 50 and slow["p_value"] < 1e-6
    assert slow["text"].startswith("slower than fp32 in litert: ")
    assert slow["text"].endswith(
        ": no optimised kernels for int16x8 in XNNPACK (LiteRT runs its reference kernels)"
    )
    assert schema_errors(report, report_schema()) == []
    assert slow_notes(report) == [f"tflite-int16x8: {slow['text']}"]


def test_slow_mode_without_a_known_reason_still_says_slower():
    slow = _report({"fp32": 1.0, "fp16": 2.0})["artifacts"][1]["slower_than_fp32"]
    assert slow["reason"] is None and 1.8 < slow["ratio"] < 2.2
    assert slow["text"].startswith("slower than fp32 in litert: ") and slow["text"].endswith("×)")


def test_onnx_dynamic_int8_reason_is_given_on_x86_only():
    x86 = _report({"fp32": 0.40, "dynamic-int8": 13.3}, runtime="onnxruntime", fmt="onnx")
    assert "ConvInteger" in x86["artifacts"][1]["slower_than_fp32"]["reason"]
    arm = _report({"fp32": 0.40, "dynamic-int8": 13.3}, runtime="onnxruntime", fmt="onnx", machine="aarch64")
    assert arm["artifacts"][1]["slower_than_fp32"]["reason"] is None  # slower, reason unknown there


@pytest.mark.parametrize("other_ms", [0.31 * 1.05, 0.2])
def test_not_slower_within_noise_or_faster(other_ms):
    assert _report({"fp32": 0.31, "int8": other_ms})["artifacts"][1]["slower_than_fp32"] is None


def test_no_flag_across_runtimes_or_without_fp32():
    report = _report({"fp32": 0.31, "int16x8": 28.0})
    report["artifacts"][1]["bench"]["runtime"]["runtime"] = "other"
    assert mark_slow_modes(report)["artifacts"][1]["slower_than_fp32"] is None
    assert _report({"int8": 1.0, "int16x8": 28.0})["artifacts"][1]["slower_than_fp32"] is None


def test_noisy_difference_is_not_called_slower():
    report = _report({"fp32": 1.0, "fp16": 1.0})
    rng = np.random.default_rng(3)
    report["artifacts"][0]["bench"] = {
        **bench_entry(rng.lognormal(0, 1.0, 30)),
        "runtime": {"runtime": "litert"},
    }
    report["artifacts"][1]["bench"] = {
        **bench_entry(rng.lognormal(0.15, 1.0, 30)),
        "runtime": {"runtime": "litert"},
    }
    # a median 15 % higher on very noisy samples: not proven, so not flagged
    assert mark_slow_modes(report)["artifacts"][1]["slower_than_fp32"] is None


def test_noisy_measurements_need_a_gap_load_cannot_explain():
    report = _report({"fp32": 0.058, "int8": 0.105, "int16x8": 28.0})
    for a in report["artifacts"]:
        a["bench"]["validity"] = "UNSTABLE"
    by = {a["quant"]: a["slower_than_fp32"] for a in mark_slow_modes(report)["artifacts"]}
    assert by["int8"] is None  # 1.8x on an oversubscribed host: not claimed
    assert (
        by["int16x8"]["noisy"]
        and "×, noisy measurement): no optimised kernels for int16x8" in by["int16x8"]["text"]
    )


def test_summary_md_and_html_show_it(tmp_path, capsys):
    report = _report({"fp32": 0.31, "int16x8": 28.0})
    md = render_markdown(report)
    html = MarkdownIt("gfm-like", {"linkify": False}).render(md)
    assert "## Slower than fp32" in md and "tflite-int16x8: slower than fp32 in litert" in html
    assert "⚠" in md.split("| tflite | int16x8 |")[1].splitlines()[0]  # the row's host p50 cell
    assert "no optimised kernels for int16x8 in XNNPACK" in render_html(report)
    print_summary(report, tmp_path)
    assert "slower than fp32 in litert" in capsys.readouterr().out


def test_no_bundled_target_plan_lists_a_mode_its_runtime_has_no_fast_kernels_for():
    from edgekit.runtimes import RUNTIMES
    from edgekit.targets.profile import builtin_targets

    checked = 0
    targets = builtin_targets()
    for name in targets.names():
        profile = targets.get(name)
        for fmt, modes in profile.plan.quant.items():
            runtimes = [r for r in profile.runtimes if r in RUNTIMES and fmt in RUNTIMES.get(r).formats]
            for runtime in runtimes:
                for mode in modes:
                    checked += 1
                    assert known_slow(runtime, mode) is None, (
                        f"{name}: plan lists {fmt} {mode}, slow in {runtime}"
                    )
    assert checked > 10 and {r for r, _ in SLOW_KERNELS} <= set(RUNTIMES.names())
