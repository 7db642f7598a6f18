"""Fixtures of the targets tests: one tiny graph converted to .tflite once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _convert(model, int8: bool = False) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        shape = (1, *model.input_shape[1:])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(-1, 1, shape).astype(np.float32)] for _ in range(4)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> dict[str, Path]:
    """One graph with every op kind under test, as fp32 and int8 .tflite files.

    16x16x3 -> Conv 3x3 (8, same) -> DepthwiseConv 3x3 stride 2 (valid, multiplier 2) -> 1x1 Conv (4)
    -> MaxPool 2x2 -> AvgPool 3x3 stride 1 (same) -> GlobalAveragePool -> Dense 5
    """
    import tf_keras

    L = tf_keras.layers
    inp = tf_keras.Input((16, 16, 3), batch_size=1)
    ones = {"bias_initializer": "ones"}  # a zero bias may be dropped by the converter
    x = L.Conv2D(8, 3, padding="same", **ones)(inp)
    x = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, **ones)(x)
    x = L.Conv2D(4, 1, **ones)(x)
    x = L.MaxPooling2D(2)(x)
    x = L.AveragePooling2D(3, strides=1, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(5, **ones)(x)
    model = tf_keras.Model(inp, out)
    folder = tmp_path_factory.mktemp("macs")
    paths = {}
    for name, int8 in (("fp32", False), ("int8", True)):
        paths[name] = folder / f"tiny-{name}.tflite"
        paths[name].write_bytes(_convert(model, int8))
    return paths


@pytest.fixture(scope="session")
def conv_strides_tflite(tmp_path_factory) -> Path:
    """16x16x3 -> Conv 3x3 stride 1 (8, same) -> Conv 3x3 stride 2 (8, same) -> Conv 1x1 (4), fp32."""
    import tf_keras

    L = tf_keras.layers
    inp = tf_keras.Input((16, 16, 3), batch_size=1)
    ones = {"bias_initializer": "ones"}
    x = L.Conv2D(8, 3, padding="same", **ones)(inp)
    x = L.Conv2D(8, 3, strides=2, padding="same", **ones)(x)
    out = L.Conv2D(4, 1, **ones)(x)
    path = tmp_path_factory.mktemp("strides") / "strides.tflite"
    path.write_bytes(_convert(tf_keras.Model(inp, out)))
    return path


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """The graph of tiny_tflite as ONNX (NCHW), built node by node: Conv 3x3 (8, pads 1) ->
    depthwise 3x3 stride 2 (group 8, multiplier 2) -> 1x1 Conv (4) -> MaxPool -> AvgPool -> GAP -> Gemm."""
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def init(name, shape):
        return numpy_helper.from_array(np.zeros(shape, np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=8, strides=[2, 2]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"]),
        helper.make_node("MaxPool", ["c3"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w4", "b4"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [
            init("w1", (8, 3, 3, 3)),
            init("b1", (8,)),
            init("w2", (16, 1, 3, 3)),
            init("w3", (4, 16, 1, 1)),
            init("w4", (5, 4)),
            init("b4", (5,)),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path
