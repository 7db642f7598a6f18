"""The engine end to end on a tiny LiteRT artifact: one worker process per artifact, a schema-valid
result, the input source recorded, and every way a measurement can go wrong as a failed row."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import QUICK

from edgekit.bench import bench_paths, decode_samples
from edgekit.bench.result import schema_errors
from edgekit.bench.targets import BenchTarget, expand
from edgekit.errors import UsageError


def test_artifact_folder_gives_a_complete_schema_valid_result(tflite_artifact):
    [r] = bench_paths([tflite_artifact.folder], QUICK)
    assert r["status"] == "ok" and schema_errors(r) == []
    assert (
        r["label"] == "tflite-fp32" and r["runtime"]["runtime"] == "litert" and r["runtime"]["threads"] == 1
    )
    assert "XNNPACK" in r["runtime"]["delegate"]
    samples = decode_samples(r)
    assert len(samples) == r["runs"] >= QUICK.min_runs and r["total_s"] >= QUICK.min_time_s
    assert r["p50_ms"] == pytest.approx(float(np.percentile(samples, 50)))
    assert r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
    assert r["validity"] in (
        "VALID",
        "UNSTABLE",
    )  # enough runs and time by construction; noise is the machine's
    assert r["model_size_bytes"] == tflite_artifact.size_bytes and r["peak_rss_kb"] > 10_000
    assert r["load_ms"] > 0 and r["first_inference_ms"] > 0
    assert r["host"]["cores"] >= 1 and r["host"]["python"] and "ai-edge-litert" in r["host"]["packages"]
    assert r["input"]["source"] == "generated" and r["input"]["shape"] == [32, 32, 3]


def test_run_dir_uses_the_saved_preprocessed_inputs(run_dir):
    [r] = bench_paths([run_dir], QUICK)
    assert r["status"] == "ok" and r["input"]["source"] == "run-dir"
    assert r["input"]["detail"].endswith("bench_inputs.npy") and r["input"]["count"] == 8


def test_bare_file_is_described_in_the_worker(tflite_artifact):
    [r] = bench_paths([tflite_artifact.path], QUICK)
    assert (
        r["status"] == "ok"
        and r["artifact"]["quant"] == "unknown"
        and r["label"] == str(tflite_artifact.path)
    )
    assert r["artifact"]["sha256"] == tflite_artifact.sha256


def test_corrupt_model_is_a_failed_row_and_the_next_artifact_is_still_measured(
    corrupt_tflite, tflite_artifact
):
    results = bench_paths([corrupt_tflite, tflite_artifact.folder], QUICK)
    assert [r["status"] for r in results] == ["failed", "ok"]
    bad = results[0]
    assert "truncated.tflite" in bad["error"] and bad["validity"] == "FAILED" and bad["p50_ms"] is None
    assert schema_errors(bad) == []


def test_wrong_runtime_for_the_format_is_a_failed_row(tflite_artifact):
    [r] = bench_paths([tflite_artifact.folder], QUICK, runtime="onnxruntime")
    assert r["status"] == "failed" and "cannot run tflite" in r["error"]


def _fake_python(tmp_path: Path, body: str) -> str:
    """An interpreter stand-in that misbehaves the way a crashing runtime does."""
    path = tmp_path / "python"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize(
    "body, message",
    [
        ("echo 'Fatal Python error: Segmentation fault' >&2; kill -SEGV $$", "killed by SIGSEGV"),
        ("echo 'std::bad_alloc' >&2; exit 7", "exited with status 7"),
    ],
)
def test_crashing_worker_becomes_a_failed_row_with_its_stderr(
    tmp_path, monkeypatch, tflite_artifact, body, message
):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, body))
    [r] = bench_paths([tflite_artifact.folder], QUICK)
    assert r["status"] == "failed" and message in r["error"] and r["stderr_tail"]
    assert ("Segmentation" in r["stderr_tail"]) or ("bad_alloc" in r["stderr_tail"])


def test_hanging_worker_is_killed_at_its_timeout(tmp_path, monkeypatch, tflite_artifact):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "sleep 30"))
    [r] = bench_paths([tflite_artifact.folder], QUICK, timeout_s=1.0)
    assert r["status"] == "failed" and "timeout" in r["error"]


def test_expand_finds_every_kind_of_path(run_dir, tflite_artifact, tmp_path):
    assert expand([run_dir]) == [
        BenchTarget("artifact-dir", run_dir / "artifacts" / "tflite-fp32", "tflite", run_dir / "reference")
    ]
    [t] = expand([run_dir / "artifacts" / "tflite-fp32"])
    assert (
        t.reference == run_dir / "reference"
    )  # an artifact folder inside a run still finds the run's inputs
    assert expand([tflite_artifact.path])[0].format == "tflite"
    (tmp_path / "m.onnx").write_bytes(b"x")
    assert expand([tmp_path / "m.onnx"])[0].format == "onnx"


@pytest.mark.parametrize("name", ["missing.tflite", "notes.txt", "empty-run"])
def test_unusable_paths_are_usage_errors(tmp_path, name):
    path = tmp_path / name
    if name == "notes.txt":
        path.write_text("hi")
    if name == "empty-run":
        (path / "artifacts").mkdir(parents=True)
    with pytest.raises(UsageError):
        expand([path])
