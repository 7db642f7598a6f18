"""The TFLite converter edgekit builds gives TensorFlow's from_saved_model bytes, loading the model once."""

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


def test_python_loads_the_saved_model_once_for_several_conversions(tiny_reference, monkeypatch):
    from tensorflow.python.saved_model import load

    calls = []
    real_load = load.load
    monkeypatch.setattr(load, "load", lambda d, tags=None: calls.append(d) or real_load(d, tags))
    monkeypatch.setattr(saved_model_memo, "_loaded", {})
    saved_model = tiny_reference / "saved_model"
    outputs = []
    for _ in range(3):
        with tflite_load.loaded_once():
            outputs.append(tflite_load.saved_model_converter(saved_model).convert())
    assert len(calls) == 1
    assert outputs[0] == outputs[1] == outputs[2]
    from tensorflow.lite.python import lite

    assert lite._load is real_load  # restored after each conversion


def test_a_rewritten_saved_model_is_loaded_again(tiny_reference, tmp_path, monkeypatch):
    import shutil

    from tensorflow.python.saved_model import load

    calls = []
    real_load = load.load
    monkeypatch.setattr(load, "load", lambda d, tags=None: calls.append(d) or real_load(d, tags))
    monkeypatch.setattr(saved_model_memo, "_loaded", {})
    copy = tmp_path / "saved_model"
    shutil.copytree(tiny_reference / "saved_model", copy)
    with tflite_load.loaded_once():
        tflite_load.saved_model_converter(copy).convert()
    pb = copy / "saved_model.pb"
    pb.write_bytes(pb.read_bytes())  # same content, new mtime: treated as a new model
    with tflite_load.loaded_once():
        tflite_load.saved_model_converter(copy).convert()
    assert len(calls) == 2
