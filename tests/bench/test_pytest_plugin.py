"""The pytest plugin as a user meets it: loaded by its pytest11 entry point, used from a test file of their own run through pytester."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest_plugins = ("pytester",)


def test_users_latency_check_passes_and_lands_in_pytest_benchmark_json(pytester, tflite_artifact):
    pytester.makepyfile(f'''
        def test_latency(edgekit_bench):
            result = edgekit_bench({str(tflite_artifact.folder)!r}, threads=1, min_runs=5, min_time_s=0.05)
            assert result.ok and result.runtime["threads"] == 1
            assert 0 < result.p50_ms <= result.p90_ms < 1000
            assert result.validity in ("VALID", "UNSTABLE") and len(result.samples_ms) == result.runs

        def test_too_strict_budget(edgekit_bench):
            result = edgekit_bench({str(tflite_artifact.folder)!r}, min_runs=5, min_time_s=0.05)
            assert result.p90_ms < 0
    ''')
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
    pytester.makepyfile(f'''
        def test_latency(edgekit_bench):
            edgekit_bench({str(corrupt_tflite)!r}, min_runs=5, min_time_s=0.05)

        def test_allowed(edgekit_bench):
            result = edgekit_bench({str(corrupt_tflite)!r}, allow_failure=True)
            assert not result.ok and "truncated.tflite" in result.error
    ''')
    out = pytester.runpytest_subprocess("-q", "-p", "no:benchmark")
    out.assert_outcomes(passed=1, failed=1)
    out.stdout.fnmatch_lines(["*BenchFailed*truncated.tflite*"])
