"""Every runtime gives the same result type on a tiny artifact of its format (the browser one in
real headless Chromium). Runtimes whose tools are missing here skip with the reason."""

from __future__ import annotations

import importlib
import shutil

import pytest
from bench_helpers import QUICK, convert_saved

from edgekit.bench import bench_paths, decode_samples
from edgekit.bench.result import schema_errors
from edgekit.errors import EdgekitError


def _tfjs_skip_reason(browser: bool) -> str | None:
    try:
        from edgekit.setup.js_runner import ensure_runner

        ensure_runner(install=False)
    except EdgekitError as exc:
        return f"TF.js runtime unavailable: {exc}"
    if shutil.which("node") is None:
        return "node is not installed"
    if browser:
        from edgekit.runtimes._tfjs_browser import find_chromium

        try:
            find_chromium()
        except EdgekitError as exc:
            return str(exc)
    return None


def _skip_reason(runtime: str) -> str | None:
    if runtime == "onnxruntime":
        try:
            importlib.import_module("edgekit.runtimes.onnxruntime")
        except ImportError as exc:
            return f"ONNX Runtime plugin unavailable: {exc}"
        return None
    return _tfjs_skip_reason(browser=runtime == "tfjs-browser")


@pytest.fixture(scope="module")
def artifacts(tiny_reference, tmp_path_factory):
    cache: dict[str, object] = {}

    def get(fmt: str):
        if fmt not in cache:
            cache[fmt] = convert_saved(tiny_reference, fmt, tmp_path_factory.mktemp("rt") / f"{fmt}-fp32")
        return cache[fmt]

    return get


@pytest.mark.parametrize(
    "fmt, runtime, detail",
    [
        ("tflite", "litert", "delegate"),
        ("onnx", "onnxruntime", "graph_optimization_level"),
        ("tfjs", "tfjs-node", "backend"),
        ("tfjs", "tfjs-node-cpu", "backend"),
        ("tfjs", "tfjs-browser", "backend"),
    ],
)
def test_runtime_measures_a_tiny_artifact(artifacts, fmt, runtime, detail):
    reason = None if runtime == "litert" else _skip_reason(runtime)
    if reason:
        pytest.skip(reason)
    artifact = artifacts(fmt)
    [r] = bench_paths([artifact.folder], QUICK, runtime=runtime, timeout_s=180)
    assert r["status"] == "ok", f"{r['error']}\n{r.get('stderr_tail')}"
    assert schema_errors(r) == [] and r["runtime"]["runtime"] == runtime
    assert detail in r["runtime"], r["runtime"]  # the runtime's own settings are recorded
    assert len(decode_samples(r)) == r["runs"] >= QUICK.min_runs and r["p50_ms"] > 0
    assert r["model_size_bytes"] == artifact.size_bytes
