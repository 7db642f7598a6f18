"""The pytest plugin as a user meets it: loaded by its pytest11 entry point, used from a test file of their own run through pytester."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest_plugins = ("pytester",)


def test_users_latency_check_passes_and_lands_in_pytest_benchmark_json(pytester, tflite_artifact):
    pytester.makepyfile(f"""
        def test_latency(edgekit_bench):
            result = edgekit_bench({str(tflite_artifact.folder)!r}, threads=1, min_runs=5, min_time_s=0.05)
            assert result.ok and result.runtime["threads"] == 1
            assert 0 < result.p50_ms <= result.p90_ms < 1000
            assert result.validity in ("VALID", "UNSTABLE") and len(result.samples_ms) == result.runs

        def test_too_strict_budget(edgekit_bench):
            result = edgekit_bench({str(tflite_artifact.folder)!r}, min_runs=5, min_time_s=0.05)
            assert result.p90_ms < 0
    """)
    out = pytester.runpytest_subprocess("--benchmark-json=bench.json", "-q")
    out.assert_outcomes(passed=1, failed=1)
    doc = json.loads((pytester.path / "bench.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    assert set(by_name) == {"test_latency", "test_too_strict_budget"}
    entry = by_name["test_latency"]
    assert entry["stats"]["rounds"] >= 5 and len(entry["stats"]["data"]) == entry["stats"]["rounds"]
    assert entry["extra_info"]["edgekit_label"] == "tflite-fp32"
    # the same timed runs as the edgekit result: its p90 recomputed from pytest-benchmark's data
    data_ms = np.asarray(entry["stats"]["data"]) * 1000.0
    assert np.percentile(data_ms, 90) == pytest.approx(entry["extra_info"]["edgekit_p90_ms"], rel=1e-9)


def test_unmeasurable_artifact_fails_the_users_test_with_the_reason(pytester, corrupt_tflite):
    pytester.makepyfile(f"""
        def test_latency(edgekit_bench):
            edgekit_bench({str(corrupt_tflite)!r}, min_runs=5, min_time_s=0.05)

        def test_allowed(edgekit_bench):
            result = edgekit_bench({str(corrupt_tflite)!r}, allow_failure=True)
            assert not result.ok and "truncated.tflite" in result.error
    """)
    out = pytester.runpytest_subprocess("-q", "-p", "no:benchmark")
    out.assert_outcomes(passed=1, failed=1)
    out.stdout.fnmatch_lines(["*BenchFailed*truncated.tflite*"])


# ---- pytest-benchmark's conventions -----------------------------------------------------------------

_TWO_TESTS = """
def test_uses_edgekit(edgekit_bench):
    result = edgekit_bench({path!r}, min_runs=5, min_time_s=0.05, warmup_runs=1)
    open("measured.txt", "a").write("x")
    assert result.ok

def test_plain():
    assert True
"""


def _measured(pytester) -> int:
    path = pytester.path / "measured.txt"
    return len(path.read_text()) if path.exists() else 0


@pytest.mark.parametrize(
    ("flag", "outcome", "measured"),
    [
        ("--benchmark-only", {"passed": 1, "skipped": 1}, 1),  # edgekit's test is a benchmark: it runs
        ("--benchmark-skip", {"passed": 1, "skipped": 1}, 0),  # skipped before anything is measured
        ("--benchmark-disable", {"passed": 2}, 1),  # measured for the asserts, nothing recorded
    ],
)
def test_benchmark_selection_flags_treat_edgekit_tests_as_benchmarks(
    pytester, tflite_artifact, flag, outcome, measured
):
    pytester.makepyfile(_TWO_TESTS.format(path=str(tflite_artifact.folder)))
    out = pytester.runpytest_subprocess(flag, "--benchmark-json=bench.json", "-rs")
    out.assert_outcomes(**outcome)
    assert _measured(pytester) == measured
    recorded = (
        [b["name"] for b in json.loads((pytester.path / "bench.json").read_text())["benchmarks"]]
        if (pytester.path / "bench.json").exists()
        else []
    )
    assert recorded == (["test_uses_edgekit"] if flag == "--benchmark-only" else [])
    if flag == "--benchmark-skip":
        out.stdout.fnmatch_lines(["*Skipping benchmark (--benchmark-skip active)*"])
    if flag == "--benchmark-only":
        out.stdout.fnmatch_lines(["*Skipping non-benchmark (--benchmark-only active)*"])


def test_no_fixture_not_used_warning_and_one_entry_per_test(pytester, tflite_artifact):
    pytester.makepyfile(f"""
        def test_twice(edgekit_bench):
            for _ in range(2):  # only the first call's samples are recorded
                assert edgekit_bench({str(tflite_artifact.folder)!r}, min_runs=5, min_time_s=0.05, warmup_runs=1).ok
    """)
    out = pytester.runpytest_subprocess(
        "--benchmark-json=bench.json", "-W", "error::pytest_benchmark.logger.PytestBenchmarkWarning"
    )
    out.assert_outcomes(passed=1)
    assert "not used at all" not in out.stdout.str() + out.stderr.str()
    assert [b["name"] for b in json.loads((pytester.path / "bench.json").read_text())["benchmarks"]] == [
        "test_twice"
    ]


@pytest.mark.parametrize(
    "load",
    [
        (),
        ("-p", "edgekit.bench.pytest_plugin"),
        ("-p", "edgekit"),
        ("-p", "no:benchmark", "-p", "edgekit.bench.pytest_plugin"),
    ],
)
def test_loaded_once_by_entry_point_or_by_name(pytester, tflite_artifact, load):
    pytester.makepyfile(f"""
        def test_latency(edgekit_bench, request):
            names = [n for n, p in request.config.pluginmanager.list_name_plugin() if getattr(p, "__name__", "") == "edgekit.bench.pytest_plugin"]
            assert len(names) == 1, names
            assert edgekit_bench({str(tflite_artifact.folder)!r}, min_runs=5, min_time_s=0.05, warmup_runs=1).ok
    """)
    out = pytester.runpytest_subprocess(*load, "-q")
    out.assert_outcomes(passed=1)
    assert "already registered" not in out.stderr.str()


def test_conftest_pytest_plugins_by_module_name_does_not_crash(pytester, tflite_artifact):
    pytester.makeconftest('pytest_plugins = ["edgekit.bench.pytest_plugin"]\n')
    pytester.makepyfile(f"""
        def test_latency(edgekit_bench):
            assert edgekit_bench({str(tflite_artifact.folder)!r}, min_runs=5, min_time_s=0.05, warmup_runs=1).ok
    """)
    pytester.runpytest_subprocess("-q").assert_outcomes(passed=1)
