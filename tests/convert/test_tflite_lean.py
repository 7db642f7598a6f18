"""edgekit's TFLite conversion holds the weights fewer times and writes TensorFlow's converter's bytes.

Every quant mode is compared, byte for byte, with tf.lite.TFLiteConverter.from_saved_model set up
the same way: in the worker (small models) and with the C++ conversion in a process of its own
(large models; here forced with the size bound at zero).
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from edgekit.convert import FORMATS, saved_model_memo, tflite, tflite_apart, tflite_lean, tflite_quantize_lean
from edgekit.convert.base import ConversionRequest

MODES = FORMATS.get("tflite").quant_modes


def _upstream(reference, quant, calibration) -> bytes:
    """TensorFlow's own converter, as its users run it, set up like edgekit's for QUANT."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(reference / "saved_model"), signature_keys=["serving_default"]
    )
    request = ConversionRequest(reference, "tflite", quant, reference, calibration)
    return tflite.configure(converter, request, tflite.QUANT_SETTINGS[quant]).convert()


def _edgekit(reference, quant, calibration, out) -> bytes:
    request = ConversionRequest(reference, "tflite", quant, out, calibration, {"analyze": False})
    return tflite.convert_tflite(request).path.read_bytes()


@pytest.fixture(scope="module")
def upstream_bytes(tiny_reference, tiny_calibration):
    return {q: _upstream(tiny_reference, q, tiny_calibration[:8]) for q in MODES}


@pytest.mark.parametrize("quant", MODES)
def test_every_mode_writes_the_upstream_converters_bytes(
    quant, tiny_reference, tiny_calibration, upstream_bytes, tmp_path, monkeypatch
):
    loads = []
    monkeypatch.setattr(saved_model_memo, "shared_load", lambda *a: loads.append(a))
    assert _edgekit(tiny_reference, quant, tiny_calibration[:8], tmp_path) == upstream_bytes[quant]
    assert loads == []  # no debug info saved: the SavedModel is not loaded into Python at all


# the C++ calls each mode makes apart: full-integer modes the conversion and (int8) the MLIR quantizer;
# int16x8 quantizes in its calibrator. A model without recurrent operators needs no intermediate
# tensors (AddIntermediateTensors would return it unchanged). Other modes convert in the worker.
CALLS = {"fp32": [], "int8": ["Convert", "ExperimentalMlirQuantizeModel"], "int16x8": ["Convert"]}


@pytest.mark.parametrize("quant", ["fp32", "int8", "int16x8"])
def test_converted_apart_the_bytes_are_the_same(
    quant, tiny_reference, tiny_calibration, upstream_bytes, tmp_path, monkeypatch
):
    calls = []
    real = tflite_apart.call_in_child
    monkeypatch.setattr(tflite, "CONVERT_APART_BYTES", 0)
    for module in (tflite_apart, tflite_quantize_lean):
        monkeypatch.setattr(
            module, "call_in_child", lambda m, f, *a: calls.append((f, real(m, f, *a))) or calls[-1][1]
        )
    assert _edgekit(tiny_reference, quant, tiny_calibration[:8], tmp_path) == upstream_bytes[quant]
    assert [f for f, _ in calls] == CALLS[quant]
    assert all(result is not None for _, result in calls)  # made by the child processes, no fallback
    if calls:
        converted = calls[0][1]
        assert isinstance(converted, bytearray) and len(converted) == 0  # freed once no longer read


def test_a_failing_child_process_falls_back_to_the_worker(
    tiny_reference, tiny_calibration, upstream_bytes, tmp_path, monkeypatch
):
    monkeypatch.setattr(tflite, "CONVERT_APART_BYTES", 0)
    monkeypatch.setattr(tflite_apart, "CHILD", "import sys; sys.exit(3)")
    assert _edgekit(tiny_reference, "int8", tiny_calibration[:8], tmp_path) == upstream_bytes["int8"]


def test_the_calibrator_is_released_before_the_quantizer_runs(
    tiny_reference, tiny_calibration, upstream_bytes, tmp_path, monkeypatch
):
    from tensorflow.lite.python.optimize import calibrator

    wrappers = []
    real = tflite_apart.call_in_child

    def spy(modules, function, args, *rest):
        if function == "ExperimentalMlirQuantizeModel":
            live = [o for o in gc.get_objects() if isinstance(o, calibrator.Calibrator)]
            wrappers.extend(o._calibrator for o in live)
        return real(modules, function, args, *rest)

    monkeypatch.setattr(tflite, "CONVERT_APART_BYTES", 0)
    monkeypatch.setattr(tflite_quantize_lean, "call_in_child", spy)
    assert _edgekit(tiny_reference, "int8", tiny_calibration[:8], tmp_path) == upstream_bytes["int8"]
    assert wrappers and all(w is None for w in wrappers)


def test_unsupported_ops_read_the_same_when_converted_apart(flex_reference, tmp_path, monkeypatch):
    from edgekit.errors import ConversionError

    monkeypatch.setattr(tflite, "CONVERT_APART_BYTES", 0)
    with pytest.raises(ConversionError, match="ops outside the TFLite builtins"):
        _edgekit(flex_reference, "fp32", None, tmp_path)


def _model_object(data: bytes):
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(data)


def test_pack_writes_flatbuffers_own_bytes_even_when_its_estimate_is_short(upstream_bytes, monkeypatch):
    from tensorflow.lite.tools import flatbuffer_utils

    for quant in ("fp32", "int8"):
        expected = flatbuffer_utils.convert_object_to_bytearray(_model_object(upstream_bytes[quant]))
        assert bytes(tflite_lean.pack(_model_object(upstream_bytes[quant]))) == expected
        monkeypatch.setattr(tflite_lean, "estimated_size", lambda _: 64)  # the builder has to grow
        assert bytes(tflite_lean.pack(_model_object(upstream_bytes[quant]))) == expected
        monkeypatch.undo()


def test_the_estimate_bounds_the_packed_size(upstream_bytes):
    for data in upstream_bytes.values():
        model = _model_object(data)
        assert len(tflite_lean.pack(model)) <= tflite_lean.estimated_size(model)


def test_lean_serialisation_restores_tensorflows_functions():
    from tensorflow.lite.python import util
    from tensorflow.lite.tools import flatbuffer_utils

    before = (flatbuffer_utils.convert_object_to_bytearray, util._convert_model_from_object_to_bytearray)
    with tflite_lean.lean_serialisation():
        assert flatbuffer_utils.convert_object_to_bytearray is not before[0]
    assert (
        flatbuffer_utils.convert_object_to_bytearray,
        util._convert_model_from_object_to_bytearray,
    ) == before


def test_numpy_vectors_of_every_kind_pack_like_flatbuffers():
    import flatbuffers

    for array in (
        np.arange(7, dtype=np.uint8),
        np.arange(5, dtype="<f4"),
        np.arange(5, dtype=">i4"),  # big-endian: flatbuffers' own path
        np.arange(12, dtype=np.int64)[::2],  # not contiguous: flatbuffers' own path
    ):
        ours, theirs = tflite_lean._builder_class()(1024), flatbuffers.Builder(16)
        for builder in (ours, theirs):
            builder.Finish(builder.CreateNumpyVector(array))
        assert bytes(ours.Bytes[ours.Head() :]) == bytes(theirs.Output())


def test_only_recurrent_models_need_intermediate_tensors(upstream_bytes):
    import tensorflow as tf
    import tf_keras

    assert not tflite_apart.needs_intermediate_tensors(upstream_bytes["fp32"])
    recurrent = tf_keras.Sequential([tf_keras.Input((4, 3), batch_size=1), tf_keras.layers.LSTM(2)])
    model = tf.lite.TFLiteConverter.from_keras_model(recurrent).convert()
    assert tflite_apart.needs_intermediate_tensors(model)
