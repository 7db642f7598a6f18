"""Estimates for a run's artifacts, TF.js ones through the tflite graph of the same reference."""

from __future__ import annotations

from edgekit.artifact import Artifact
from edgekit.targets import resolve_target
from edgekit.targets.artifacts import estimate_artifacts


def _artifact(fmt, quant, path):
    return Artifact(fmt, quant, path, "0" * 64, path.stat().st_size if path.exists() else 0, [], [])


def test_each_artifact_gets_an_estimate_or_a_reason(tiny_onnx, tmp_path):
    onnx = _artifact("onnx", "fp32", tiny_onnx)
    tfjs = _artifact("tfjs", "uint8", tmp_path / "model.json")
    out = estimate_artifacts([onnx, tfjs], resolve_target("rpi4"))
    assert out["onnx-fp32"].runtime == "onnxruntime" and out["onnx-fp32"].fits
    assert "no tflite artifact" in out["tfjs-uint8"]


def test_tfjs_artifacts_are_estimated_from_the_tflite_graph(tiny_tflite):
    tflite = _artifact("tflite", "fp32", tiny_tflite["fp32"])
    tfjs = _artifact("tfjs", "uint8", tiny_tflite["fp32"].parent / "model.json")
    out = estimate_artifacts([tflite, tfjs], resolve_target("browser"))
    assert "no runtime for tflite" in " ".join(out["tflite-fp32"].warnings)
    e = out["tfjs-uint8"]
    assert e.runtime == "tfjs-browser" and e.latency_ms is not None and e.low_ms < e.high_ms
    assert any("made from the tflite graph" in w for w in e.warnings)
