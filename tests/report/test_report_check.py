"""`edgekit check`: the latency rule (bootstrap interval of the median ratio), exact thresholds, exit codes."""

import copy
import json

import numpy as np
import pytest
from synthetic import bench_entry, latency_samples, make_report

from edgekit.cli import main
from edgekit.errors import UsageError
from edgekit.report.check import Thresholds, compare_reports, parse_fraction
from edgekit.report.mannwhitney import mann_whitney_greater
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
    for seed in range(10, 20):  # ten reruns of the same artifact: same distribution, new noise
        new = _with_samples(base, "tflite-int8", latency_samples(1.1, seed=seed))
        r = compare_reports(new, base, Thresholds())
        assert r.passed, r.regressions
        f = _latency(r, "tflite-int8")
        assert f.ci_low < f.ratio < f.ci_high and f.ci_low < 1.10
    slow = _with_samples(base, "tflite-int8", latency_samples(1.1, seed=99) * 1.3)
    r = compare_reports(slow, base, Thresholds())
    f = _latency(r, "tflite-int8")
    assert f.regression and not r.passed and 1.10 < f.ci_low < 1.3 < f.ci_high
    # the threshold is the user's: at 40 % the same slowdown is allowed, at 20 % it is not
    assert not _latency(compare_reports(slow, base, Thresholds(0.40)), "tflite-int8").regression
    assert _latency(compare_reports(slow, base, Thresholds(0.20)), "tflite-int8").regression


def test_large_but_noisy_change_is_not_proven():
    base = _with_samples(make_report(), "tflite-int8", [1.0, 1.6, 0.7, 1.3, 0.9])
    new = _with_samples(base, "tflite-int8", [1.3, 0.8, 1.7, 1.15, 1.0])  # median +15 %, 5 samples
    f = _latency(compare_reports(new, base, Thresholds()), "tflite-int8")
    assert f.change.startswith("+15") and f.ci_low < 1.0 and not f.regression
    assert "not proven" in f.note


def test_tiny_drift_with_thousands_of_samples_is_not_a_regression():
    """The case a significance test gets wrong: +0.3 % between two runs, p far below any alpha."""
    rng = np.random.default_rng(3)  # a steady host: thousands of runs within a few tenths of a percent
    base_s, new_s = rng.normal(1.0, 0.004, 5000), rng.normal(1.003, 0.004, 5000)
    assert mann_whitney_greater(base_s, new_s).p_value < 1e-100
    base = _with_samples(make_report(), "tflite-int8", base_s)
    f = _latency(
        compare_reports(_with_samples(base, "tflite-int8", new_s), base, Thresholds()), "tflite-int8"
    )
    assert not f.regression and f.note == ""
    assert f.ratio == pytest.approx(1.003, abs=1e-4) and 1.0 < f.ci_low < f.ci_high < 1.01


def test_small_change_below_threshold_is_not_flagged_even_when_certain():
    base = _with_samples(make_report(), "tflite-int8", latency_samples(1.0, n=3000, seed=1))
    new = _with_samples(base, "tflite-int8", latency_samples(1.05, n=3000, seed=2))
    f = _latency(compare_reports(new, base, Thresholds()), "tflite-int8")
    assert 1.0 < f.ci_low and f.ci_high < 1.10 and not f.regression
    # the same +5 % fails a 3 % threshold: the whole interval lies above it
    assert _latency(compare_reports(new, base, Thresholds(0.03)), "tflite-int8").regression


def test_the_interval_is_deterministic():
    base = make_report()
    new = _with_samples(base, "tflite-int8", latency_samples(1.2, seed=7))
    a = _latency(compare_reports(new, base, Thresholds()), "tflite-int8")
    b = _latency(compare_reports(copy.deepcopy(new), copy.deepcopy(base), Thresholds()), "tflite-int8")
    assert (a.ratio, a.ci_low, a.ci_high) == (b.ratio, b.ci_low, b.ci_high)


def test_without_raw_samples_the_median_alone_decides():
    base = make_report()
    new = copy.deepcopy(base)
    for report, p50 in ((base, 1.0), (new, 1.2)):
        bench = report["artifacts"][1]["bench"]
        del bench["samples_ms"]
        bench["p50_ms"] = p50
    f = _latency(compare_reports(new, base, Thresholds()), "tflite-int8")
    assert f.regression and f.ci_low is None and f.ratio == pytest.approx(1.2) and "median rule" in f.note


@pytest.mark.parametrize("bad", [[1.0, float("nan"), 1.1], [1.0, -0.5, 1.1]])
def test_invalid_samples_are_a_usage_error(tmp_path, capsys, bad):
    base = make_report()
    new = _with_samples(base, "tflite-int8", latency_samples(1.1))
    new["artifacts"][1]["bench"]["samples_ms"][:3] = bad
    with pytest.raises(UsageError, match="finite latencies"):
        compare_reports(new, base, Thresholds())
    assert (
        main(["check", _write(tmp_path / "new.json", new), "--baseline", _write(tmp_path / "b.json", base)])
        == 2
    )
    assert "finite latencies" in capsys.readouterr().err


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
    assert "ratio (95% CI)" in text
    row = next(line for line in text.splitlines() if line.startswith("| tflite-fp32 | latency p50 |"))
    low, high = (float(v) for v in row.split("(")[1].split(")")[0].split("–"))
    assert 1.1 < low < high  # the interval in the table lies wholly above the 10 % limit
    assert main(["check", slow, "--baseline", b, "--max-latency-regression", "lots"]) == 2
    assert main(["check", slow, "--baseline", str(tmp_path / "nope.json")]) == 2
    assert main(["check", slow, "--baseline", b, "--update-baseline"]) == 0
    assert main(["check", slow, "--baseline", b]) == 0  # the slow numbers are the baseline now
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1}))
    assert main(["check", str(bad), "--baseline", b]) == 2
    assert "does not match report schema" in capsys.readouterr().err
