"""The MLIR quantizer run on stand-in weights writes TensorFlow's quantizer's bytes.

Tiny Keras models (Conv2D, DepthwiseConv2D, Dense, BatchNormalization folded into a convolution, a
layer called twice, a channel of zeros, biases of every size) are converted by TFLiteConverter for
full-integer int8; the arguments its MLIR quantizer call gets are captured, and that call's bytes are
compared with those of `quantize_lean` with every weight standing in (the size threshold at zero).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.convert import tflite_quantize_lean as lean


def _model(seed: int):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    layers = tf.keras.layers
    inputs = tf.keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)  # folded into the convolution
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    shared = layers.Conv2D(6, 1)  # one weight, two operators: it keeps its real values
    a, b = shared(x), shared(layers.ReLU()(x))
    x = layers.Concatenate()([a, b])
    x = layers.Conv2D(5, 3, use_bias=False)(x)
    zero = layers.Conv2D(4, 1)  # a channel of zeros: it keeps its real values
    x = zero(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    outputs = layers.Dense(7)(x)
    model = tf.keras.Model(inputs, outputs)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in weights])
    kernel, bias = zero.get_weights()
    kernel[..., 2] = 0
    zero.set_weights([kernel, bias])
    bn = model.layers[2]
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, beta, mean, np.abs(var) + 0.5])
    return model


def _captured(model, io_type) -> tuple[tuple, bytes]:
    """The arguments and bytes of TensorFlow's MLIR quantizer call while converting MODEL."""
    import tensorflow as tf
    from tensorflow.compiler.mlir.lite.python import wrap_converter

    calls = []
    original = wrap_converter.wrapped_experimental_mlir_quantize

    def capture(*args):
        result = original(*args)
        calls.append((args, bytes(result)))
        return result

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(1)
    converter.representative_dataset = lambda: (
        [rng.normal(0, 1, (1, 12, 12, 3)).astype(np.float32)] for _ in range(4)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = io_type
    wrap_converter.wrapped_experimental_mlir_quantize = capture
    try:
        converter.convert()
    finally:
        wrap_converter.wrapped_experimental_mlir_quantize = original
    assert len(calls) == 1
    return calls[0]


@pytest.fixture(scope="module")
def quantizer_calls():
    import tensorflow as tf

    return {
        name: _captured(_model(i), t)
        for i, (name, t) in enumerate([("float32", tf.float32), ("int8", tf.int8), ("uint8", tf.uint8)])
    }


@pytest.mark.parametrize("io_type", ["float32", "int8", "uint8"])
def test_standing_in_gives_the_quantizers_bytes(io_type, quantizer_calls, monkeypatch):
    args, expected = quantizer_calls[io_type]
    plan = lean._plan(args[0], 0)
    kinds = {(len(p.shape), p.dimension, p.bias is not None) for p in plan}
    assert (4, 0, True) in kinds and (4, 3, True) in kinds and (2, 0, True) in kinds
    result = lean.quantize_standing_in(args, threshold=0)
    assert result is not None  # stood in, not TensorFlow's plain call
    assert bytes(result) == expected
    monkeypatch.setattr(lean, "STAND_IN_BYTES", 0)
    assert bytes(lean.quantize_lean(*args)) == expected


@pytest.mark.parametrize("io_type", ["int8", "uint8"])
def test_the_io_types_given_to_the_quantizer(io_type, quantizer_calls):
    """TensorFlow passes float32 in and out and changes the model's interface later; other types too."""
    import tensorflow as tf
    from tensorflow.compiler.mlir.lite.python import _pywrap_converter_api
    from tensorflow.lite.python.convert import convert_tensor_tf_type_to_tflite_type

    args, _ = quantizer_calls["float32"]
    code = convert_tensor_tf_type_to_tflite_type(tf.as_dtype(io_type))
    changed = (*args[:4], code, code, *args[6:])
    expected = bytes(_pywrap_converter_api.ExperimentalMlirQuantizeModel(*changed))
    result = lean.quantize_standing_in(changed, threshold=0)
    assert result is not None
    assert bytes(result) == expected


def test_weights_that_cannot_be_checked_keep_their_values(quantizer_calls):
    args, _ = quantizer_calls["float32"]
    plan = lean._plan(args[0], 0)
    assert all(p.peak.min() > 0 for p in plan)  # the zero channel's weight is not among them
    # a layer called twice: its weight has two users and keeps its values
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(args[0], 0)
    _, uses = lean._uses(model)
    assert all(len(uses[(0, p.tensor)]) == 1 for p in plan)
    assert len({p.value for p in plan}) == len(plan)


def test_a_failed_check_falls_back_to_tensorflows_call(quantizer_calls, monkeypatch):
    args, expected = quantizer_calls["float32"]
    monkeypatch.setattr(lean, "_patch", lambda result, plan: False)
    monkeypatch.setattr(lean, "STAND_IN_BYTES", 0)
    assert lean.quantize_standing_in(args, threshold=0) is None
    assert bytes(lean.quantize_lean(*args)) == expected
