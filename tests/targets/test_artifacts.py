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
            c.representative_dataset = lambda: (
                [rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)] for _ in range(4)
            )
            c.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8
                if mode == "int8"
                else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
        paths[mode] = folder / f"{mode}.tflite"
        paths[mode].write_bytes(c.convert())
    return paths


@pytest.mark.parametrize("mode", ["fp32", "fp16", "dynamic-int8", "int8", "int16x8"])
def test_the_quant_mode_is_read_back_from_the_tensor_types(quantized_graphs, mode):
    assert quant_from_graph(analyze(quantized_graphs[mode])) == mode
    given = read_artifact_input(quantized_graphs[mode])
    assert (given.format, given.quant, given.quant_from) == ("tflite", mode, "tensor types")


@pytest.fixture(scope="module")
def onnx_graphs(tmp_path_factory):
    """A conv net as ONNX fp32, dynamic-int8 (ConvInteger) and static int8 (QDQ), quantized by ONNX Runtime."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.normal(size=(64, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(np.ones(64, np.float32), "b"),
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
            helper.make_node("GlobalAveragePool", ["y"], ["z"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 64, 1, 1])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("onnx-quant")
    paths = {m: folder / f"{m}.onnx" for m in ("fp32", "dynamic-int8", "int8")}
    onnx.save(model, paths["fp32"])
    quantize_dynamic(paths["fp32"], paths["dynamic-int8"], weight_type=QuantType.QInt8)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.random((1, 3, 16, 16)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        paths["fp32"],
        paths["int8"],
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    return paths


@pytest.mark.parametrize("mode", ["fp32", "dynamic-int8", "int8"])
def test_onnx_quant_mode_is_read_back_from_the_graph(onnx_graphs, mode):
    given = read_artifact_input(onnx_graphs[mode])
    assert (given.format, given.quant, given.quant_from) == ("onnx", mode, "tensor types")
