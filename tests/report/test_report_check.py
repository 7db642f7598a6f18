"""`edgekit check`: the latency rule (median AND Mann-Whitney), exact thresholds, exit codes."""

import copy
import json

import numpy as np
import pytest
from synthetic import bench_entry, latency_samples, make_report

from edgekit.cli import main
from edgekit.errors import UsageError
from edgekit.report.check import Thresholds, compare_reports, parse_fraction
from edgekit.report.samples import bench_samples, encode_samples


def _with_samples(report: dict, name: str, samples) -> dict:
    out = copy.deepcopy(report)
    for a in out["artifacts"]:
        if f"{a['format']}-{a['quant']}" == name:
            a["bench"] = bench_entry(samples)
    return out


def _latency(result, name):
    return next(f for f in result.findings if f.artifact == name and f.metric == "latency p50")


def test_same_artifact_ten_times_never_flagged_and_30pct_slowdown_flagged():
    base = make_report()
    p_values = []
    for seed in range(10, 20):  # ten reruns of the same artifact: same distribution, new noise
        new = _with_samples(base, "tflite-int8", latency_samples(1.1, seed=seed))
        r = compare_reports(new, base, Thresholds())
        assert r.passed, r.regressions
        p_values.append(_latency(r, "tflite-int8").p_value)
    assert min(p_values) > 0.01  # none would even pass the significance half of the rule
    slow = _with_samples(base, "tflite-int8", latency_samples(1.1, seed=99) * 1.3)
    r = compare_reports(slow, base, Thresholds())
    f = _latency(r, "tflite-int8")
    assert f.regression and f.p_value < 1e-6 and not r.passed


def test_large_but_noisy_change_is_not_proven():
    base = _with_samples(make_report(), "tflite-int8", [1.0, 1.6, 0.7, 1.3, 0.9])
    new = _with_samples(base, "tflite-int8", [1.3, 0.8, 1.7, 1.15, 1.0])  # median +15 %, 5 samples
    f = _latency(compare_reports(new, base, Thresholds()), "tflite-int8")
    assert f.change.startswith("+15") and f.p_value > 0.01 and not f.regression


def test_small_but_significant_change_is_below_threshold():
    base = _with_samples(make_report(), "tflite-int8", latency_samples(1.0, n=3000, seed=1))
    new = _with_samples(base, "tflite-int8", latency_samples(1.05, n=3000, seed=2))
    f = _latency(compare_reports(new, base, Thresholds()), "tflite-int8")
    assert f.p_value < 0.01 and not f.regression


def test_compressed_samples_are_read_like_plain_ones():
    s = latency_samples(1.0, n=50)
    assert np.array_equal(bench_samples({"samples_ms_b64z": encode_samples(s)}), s)
    base = make_report()
    new = copy.deepcopy(base)
    for a in new["artifacts"]:
        a["bench"]["samples_ms_b64z"] = encode_samples(np.array(a["bench"].pop("samples_ms")) * 1.3)
    assert {f.artifact for f in compare_reports(new, base, Thresholds()).regressions} == {
        "tflite-fp32",
        "tflite-int8",
        "tflite-fp16",
    }
    with pytest.raises(UsageError, match="samples_ms_b64z"):
        bench_samples({"samples_ms_b64z": "not base64!"})


@pytest.mark.parametrize(
    "field,new_value,flagged",
    [
        ("accuracy", 0.885, True),  # 1.5 pp drop > 1.0
        ("accuracy", 0.89, False),  # exactly 1.0 pp: allowed
        ("verdict", "warn", True),
        ("size", 1.06, True),
        ("size", 1.04, False),
    ],
)
def test_exact_thresholds(field, new_value, flagged):
    base = make_report()
    new = copy.deepcopy(base)
    a = new["artifacts"][0]  # tflite-fp32, accuracy 0.90
    if field == "size":
        a["artifact"]["size_bytes"] = int(a["artifact"]["size_bytes"] * new_value)
    else:
        a["parity"][field] = new_value
    metric = {"accuracy": "accuracy", "verdict": "parity", "size": "size"}[field]
    f = next(
        f
        for f in compare_reports(new, base, Thresholds()).findings
        if f.metric == metric and f.artifact == "tflite-fp32"
    )
    assert f.regression is flagged


def test_missing_or_failed_artifact_is_a_regression():
    base = make_report()
    new = copy.deepcopy(base)
    new["artifacts"][1].update(status="failed", error="converter crashed")
    del new["artifacts"][0]
    names = {f.artifact for f in compare_reports(new, base, Thresholds()).regressions if f.metric == "status"}
    assert names == {"tflite-fp32", "tflite-int8"}


def test_parse_fraction():
    assert parse_fraction("10%", "x") == pytest.approx(0.10) and parse_fraction("5", "x") == pytest.approx(
        0.05
    )
    with pytest.raises(UsageError, match="percentage"):
        parse_fraction("ten", "--max-size-growth")


def _write(path, report):
    path.write_text(json.dumps(report))
    return str(path)


def test_cli_exit_codes_markdown_and_update_baseline(tmp_path, capsys):
    base = make_report()
    b = _write(tmp_path / "base.json", base)
    same = _write(tmp_path / "same.json", base)
    slow = _write(
        tmp_path / "slow.json", _with_samples(base, "tflite-fp32", latency_samples(2.0, seed=5) * 1.3)
    )
    assert main(["check", same, "--baseline", b]) == 0
    md = tmp_path / "diff.md"
    assert main(["check", slow, "--baseline", b, "--markdown", str(md)]) == 1
    text = md.read_text()
    assert "❌ 1 regression" in text and "| tflite-fp32 | latency p50 |" in text and "❌ regression" in text
    assert main(["check", slow, "--baseline", b, "--max-latency-regression", "lots"]) == 2
    assert main(["check", slow, "--baseline", str(tmp_path / "nope.json")]) == 2
    assert main(["check", slow, "--baseline", b, "--update-baseline"]) == 0
    assert main(["check", slow, "--baseline", b]) == 0  # the slow numbers are the baseline now
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1}))
    assert main(["check", str(bad), "--baseline", b]) == 2
    assert "does not match report schema" in capsys.readouterr().err
