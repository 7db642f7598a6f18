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
        converter.representative_dataset = lambda: ([rng.uniform(-1, 1, shape).astype(np.float32)] for _ in range(4))
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
