"""Estimates for a run's artifacts, TF.js ones through the tflite graph of the same reference."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.artifact import Artifact
from edgekit.targets import resolve_target
from edgekit.targets.analysis import analyze
from edgekit.targets.artifacts import (
    estimate_artifacts,
    quant_from_graph,
    read_artifact_input,
)


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


@pytest.fixture(scope="module")
def quantized_graphs(tmp_path_factory):
    """One small graph with enough weights (64x64 dense) for TFLite's dynamic-range quantization."""
    import tensorflow as tf
    import tf_keras

    inp = tf_keras.Input((8, 8, 3), batch_size=1)
    x = tf_keras.layers.Conv2D(64, 3, padding="same")(inp)
    x = tf_keras.layers.GlobalAveragePooling2D()(x)
    model = tf_keras.Model(inp, tf_keras.layers.Dense(64)(x))
    rng = np.random.default_rng(0)
    folder, paths = tmp_path_factory.mktemp("quant-graphs"), {}
    for mode in ("fp32", "fp16", "dynamic-int8", "int8", "int16x8"):
        c = tf.lite.TFLiteConverter.from_keras_model(model)
        if mode != "fp32":
            c.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "fp16":
            c.target_spec.supported_types = [tf.float16]
        if mode in ("int8", "int16x8"):
            c.representative_dataset = lambda: ([rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)] for _ in range(4))
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8" else
                                           tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        paths[mode] = folder / f"{mode}.tflite"
        paths[mode].write_bytes(c.convert())
    return paths


@pytest.mark.parametrize("mode", ["fp32", "fp16", "dynamic-int8", "int8", "int16x8"])
def test_the_quant_mode_is_read_back_from_the_tensor_types(quantized_graphs, mode):
    assert quant_from_graph(analyze(quantized_graphs[mode])) == mode
    given = read_artifact_input(quantized_graphs[mode])
    assert (given.format, given.quant, given.quant_from) == ("tflite", mode, "tensor types")
