"""edgekit's lean calibration gives TensorFlow's calibrated statistics, and TensorFlow's quantized bytes.

Each tiny model is calibrated by TensorFlow's Calibrator and by `tflite_calibrate.calibrate`: every
tensor's min/max must be the same float, bit for bit. Then TensorFlow's converter quantizes with
and without `lean_calibration()`: the int8 models must be the same bytes, and the lean path must
have been the one taken.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.convert import tflite_calibrate

SIZE = 12


def _model(kind: str):
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    L = tf_keras.layers
    inputs = tf_keras.Input((SIZE, SIZE, 3), name="image")
    if kind == "backbone":  # conv + BN, depthwise, reshape, dense
        x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
        x = L.BatchNormalization(beta_initializer="random_normal", moving_mean_initializer="random_normal")(x)
        x = L.ReLU(6.0)(x)
        x = L.DepthwiseConv2D(3, padding="same")(x)
        x = L.Conv2D(16, 1, activation="relu")(x)
        x = L.Reshape((-1,))(x)
        outputs = L.Dense(5, activation="softmax")(x)
    else:  # branches joined by ADD (run in place over a convolution's output) and CONCATENATION
        a = L.Conv2D(8, 3, padding="same")(inputs)
        b = L.Conv2D(8, 1)(L.DepthwiseConv2D(3, padding="same")(inputs))
        x = L.ReLU()(L.Concatenate()([a, L.Add()([a, b])]))
        x = L.Conv2D(8, 1)(x)
        x = L.Add()([x, L.Conv2D(8, 1)(x)])
        below_zero = L.Lambda(lambda t: -t)(L.ReLU()(x))  # never above zero: TensorFlow's max is FLT_MIN
        x = L.Concatenate()([x, below_zero])
        outputs = L.Dense(4)(L.Flatten()(x))
    return tf_keras.Model(inputs, outputs)


MODELS = ["backbone", "branches"]


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(6, SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def keras_models():
    return {kind: _model(kind) for kind in MODELS}


@pytest.fixture(scope="module")
def float_models(keras_models):
    import tensorflow as tf

    return {kind: tf.lite.TFLiteConverter.from_keras_model(m).convert() for kind, m in keras_models.items()}


def _lists(samples: np.ndarray) -> list[list[np.ndarray]]:
    return [[samples[i : i + 1]] for i in range(len(samples))]


def _statistics(model) -> dict[int, tuple[bytes, bytes] | None]:
    from ai_edge_litert import schema_py_generated as schema

    tensors = schema.ModelT.InitFromPackedBuf(bytes(model), 0).subgraphs[0].tensors
    out: dict[int, tuple[bytes, bytes] | None] = {}
    for i, tensor in enumerate(tensors):
        q = tensor.quantization
        if q is None or q.min is None:
            out[i] = None
        else:
            out[i] = (np.asarray(q.min, np.float32).tobytes(), np.asarray(q.max, np.float32).tobytes())
    return out


@pytest.mark.parametrize("kind", MODELS)
def test_every_tensors_min_max_is_tensorflows(kind, float_models, samples):
    from tensorflow.lite.python.optimize import calibrator

    model = float_models[kind]
    theirs = calibrator.Calibrator(model).calibrate(lambda: iter(_lists(samples)))
    ours = tflite_calibrate.calibrate(model, _lists(samples))
    assert ours is not None
    expected = _statistics(theirs)
    assert sum(v is not None for v in expected.values()) >= 6
    assert _statistics(ours) == expected
    if kind == "branches":  # the cases the rules are there for
        flt_min = np.float32(np.finfo(np.float32).tiny).tobytes()
        assert any(v is not None and v[1] == flt_min for v in expected.values())


def test_from_a_file_the_model_is_the_same(float_models, samples, tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(float_models["backbone"])
    from_file = tflite_calibrate.calibrated_model(path, samples)
    assert from_file is not None
    assert bytes(from_file) == bytes(tflite_calibrate.calibrate(float_models["backbone"], _lists(samples)))


def _int8(keras_model, samples, lean: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(_lists(samples))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    if not lean:
        return converter.convert()
    with tflite_calibrate.lean_calibration():
        return converter.convert()


@pytest.fixture
def lean_results(monkeypatch):
    """What each lean calibration returned, in order."""
    results = []
    real = tflite_calibrate._calibrate

    def spy(*args):
        results.append(real(*args))
        return results[-1]

    monkeypatch.setattr(tflite_calibrate, "_calibrate", spy)
    return results


@pytest.mark.parametrize("kind", MODELS)
def test_the_int8_model_is_tensorflows_bytes(kind, keras_models, samples, lean_results):
    from tensorflow.lite.python.optimize import calibrator

    original = calibrator.Calibrator
    theirs = _int8(keras_models[kind], samples, lean=False)
    assert lean_results == []
    ours = _int8(keras_models[kind], samples, lean=True)
    assert len(lean_results) == 1 and lean_results[0] is not None  # calibrated the lean way
    assert ours == theirs
    assert calibrator.Calibrator is original


def test_edgekits_int8_conversion_apart_is_tensorflows_bytes(
    tiny_reference, tiny_calibration, tmp_path, lean_results
):
    """As the large models convert: the C++ steps in processes of their own, the calibrated model
    handed to the quantizer's process as the packed view."""
    from edgekit.convert import tflite
    from edgekit.convert.base import ConversionRequest
    from edgekit.convert.tflite_apart import converts_apart
    from edgekit.convert.tflite_lean import lean_serialisation
    from edgekit.convert.tflite_load import saved_model_converter

    request = ConversionRequest(tiny_reference, "tflite", "int8", tmp_path, tiny_calibration[:6])
    settings = tflite.QUANT_SETTINGS["int8"]

    def convert(lean: bool) -> bytes:
        converter = tflite.configure(saved_model_converter(tiny_reference / "saved_model"), request, settings)
        with lean_serialisation(), converts_apart("int8"):
            if not lean:
                return bytes(converter.convert())
            with tflite_calibrate.lean_calibration(as_view=True):
                return bytes(converter.convert())

    theirs = convert(lean=False)
    ours = convert(lean=True)
    assert len(lean_results) == 1 and lean_results[0] is not None
    assert ours == theirs


def test_where_the_lean_path_does_not_apply_tensorflow_calibrates(
    keras_models, samples, float_models, monkeypatch
):
    with_nan = samples.copy()
    with_nan[0, 0, 0, 0] = np.nan
    assert tflite_calibrate.calibrate(float_models["backbone"], _lists(with_nan)) is None
    assert tflite_calibrate.calibrate(float_models["backbone"], []) is None
    assert tflite_calibrate.calibrate(b"not a model", _lists(samples)) is None
    differing = [[samples[:1]], [samples[1:2, :-1]]]
    assert tflite_calibrate.calibrate(float_models["backbone"], differing) is None
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_models["backbone"])
    converter._experimental_use_buffer_offset = True  # weights after the flatbuffer, as over 2 GB
    assert tflite_calibrate.calibrate(converter.convert(), _lists(samples)) is None

    theirs = _int8(keras_models["backbone"], samples, lean=False)
    monkeypatch.setattr(tflite_calibrate, "_calibrate", lambda *a: None)
    assert _int8(keras_models["backbone"], samples, lean=True) == theirs
