"""The TFLite converter edgekit builds gives TensorFlow's from_saved_model bytes, loading the model into
Python only for debug info, and then once per process."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.convert import saved_model_memo, tflite_load


def _configured(converter, calibration: np.ndarray | None):
    import tensorflow as tf

    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter


@pytest.mark.parametrize("mode", ["fp32", "int8"])
def test_same_bytes_as_from_saved_model(tiny_reference, tiny_calibration, mode):
    import tensorflow as tf

    saved_model = tiny_reference / "saved_model"
    calibration = tiny_calibration[:8] if mode == "int8" else None
    upstream = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["serving_default"])
    expected = _configured(upstream, calibration).convert()
    with tflite_load.loaded_once():
        ours = _configured(tflite_load.saved_model_converter(saved_model), calibration).convert()
    assert ours == expected


@pytest.fixture(scope="module")
def debug_reference(tmp_path_factory):
    """The tiny classifier saved with its debug info (SaveOptions(save_debug_info=True))."""
    import tensorflow as tf
    from tiny_models import build_tiny_classifier

    model = build_tiny_classifier()
    serving = tf.function(lambda x: {"probs": model(x)}).get_concrete_function(
        tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    )
    reference = tmp_path_factory.mktemp("debug") / "reference"
    tf.saved_model.save(
        model,
        str(reference / "saved_model"),
        signatures={"serving_default": serving},
        options=tf.saved_model.SaveOptions(save_debug_info=True),
    )
    return reference


def _counting_loads(monkeypatch) -> list:
    from tensorflow.python.saved_model import load

    calls: list = []
    real_load = load.load
    monkeypatch.setattr(load, "load", lambda d, tags=None: calls.append(d) or real_load(d, tags))
    monkeypatch.setattr(saved_model_memo, "_loaded", {})
    return calls


def test_without_debug_info_the_saved_model_is_not_loaded_into_python(tiny_reference, monkeypatch):
    from tensorflow.lite.python import lite

    real = lite._load
    calls = _counting_loads(monkeypatch)
    assert not tflite_load.has_debug_info(tiny_reference / "saved_model")
    outputs = []
    for _ in range(3):
        with tflite_load.loaded_once():
            outputs.append(tflite_load.saved_model_converter(tiny_reference / "saved_model").convert())
    assert calls == []
    assert outputs[0] == outputs[1] == outputs[2]
    assert lite._load is real  # restored after each conversion


@pytest.mark.parametrize("mode", ["fp32", "int8"])
def test_with_debug_info_python_loads_it_once_and_the_bytes_are_upstreams(
    debug_reference, tiny_calibration, monkeypatch, mode
):
    import tensorflow as tf

    saved_model = debug_reference / "saved_model"
    assert tflite_load.has_debug_info(saved_model)
    calibration = tiny_calibration[:8] if mode == "int8" else None
    upstream = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["serving_default"])
    expected = _configured(upstream, calibration).convert()
    calls = _counting_loads(monkeypatch)
    for _ in range(2):
        with tflite_load.loaded_once():
            assert (
                _configured(tflite_load.saved_model_converter(saved_model), calibration).convert() == expected
            )
    assert len(calls) == 1


def test_a_rewritten_saved_model_is_loaded_again(debug_reference, tmp_path, monkeypatch):
    import shutil

    calls = _counting_loads(monkeypatch)
    copy = tmp_path / "saved_model"
    shutil.copytree(debug_reference / "saved_model", copy)
    with tflite_load.loaded_once():
        tflite_load.saved_model_converter(copy).convert()
    pb = copy / "saved_model.pb"
    pb.write_bytes(pb.read_bytes())  # same content, new mtime: treated as a new model
    with tflite_load.loaded_once():
        tflite_load.saved_model_converter(copy).convert()
    assert len(calls) == 2
