"""TFLite format plugin: every declared quant mode on a tiny model, flex ops, selective int8, analysis."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import tiny_images

from edgekit.convert import FORMATS
from edgekit.convert.base import ConversionRequest
from edgekit.convert.parity import PARITY_THRESHOLDS, compare
from edgekit.errors import ConversionError
from edgekit.runtimes import load_session
from edgekit.runtimes.reference import ReferenceModel

MODES = FORMATS.get("tflite").quant_modes


@pytest.fixture(scope="module")
def reference_outputs(tiny_reference):
    x = tiny_images(48, seed=7)
    return x, ReferenceModel(tiny_reference).predict(x)


def convert(reference, quant, out, calibration=None, **options):
    return FORMATS.get("tflite").convert(
        ConversionRequest(reference, "tflite", quant, out, calibration, options)
    )


@pytest.mark.parametrize("quant", MODES)
def test_every_mode_converts_runs_and_meets_its_parity_thresholds(
    quant, tiny_reference, tiny_calibration, reference_outputs, tmp_path
):
    artifact = convert(tiny_reference, quant, tmp_path, tiny_calibration)
    assert artifact.path.is_file() and artifact.size_bytes == artifact.path.stat().st_size
    assert artifact.metadata["xnnpack"]["ops"] > 0 and "compatible" in artifact.metadata["gpu_delegate"]
    x, ref = reference_outputs
    session = load_session(artifact, threads=2)
    out = session.predict(x)
    assert out.shape == ref.shape and out.dtype == np.float32
    parity = compare(ref, out, None, quant)
    assert parity.verdict == "pass", (quant, parity.reasons)
    assert quant in PARITY_THRESHOLDS


def test_int8_has_integer_io_with_quantization_parameters(tiny_reference, tiny_calibration, tmp_path):
    artifact = convert(tiny_reference, "int8", tmp_path, tiny_calibration, int8_io="uint8")
    spec = artifact.inputs[0]
    assert spec.dtype == "uint8" and spec.scale > 0 and spec.zero_point is not None
    assert artifact.metadata["calibration_samples"] == len(tiny_calibration)


@pytest.mark.parametrize("quant", ["int8", "int16x8"])
def test_calibrated_modes_refuse_to_run_without_data(quant, tiny_reference, tmp_path):
    with pytest.raises(ConversionError, match="needs calibration data"):
        convert(tiny_reference, quant, tmp_path)
    assert not (tmp_path / "model.tflite").exists()


@pytest.fixture(scope="module")
def flex_reference(tmp_path_factory):
    """A model using MatrixDeterminant, which only exists as a Select TF (Flex) op."""
    import tensorflow as tf

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="image")])
        def serve(self, image):
            det = tf.linalg.det(tf.reshape(image, [1, 3, 8, 8]))
            return {"probabilities": tf.nn.softmax(det)}

    folder = tmp_path_factory.mktemp("flex")
    model = Model()
    tf.saved_model.save(model, str(folder / "saved_model"), signatures={"serving_default": model.serve})
    return folder


def test_flex_ops_are_named_in_a_clear_error(flex_reference, tmp_path):
    with pytest.raises(ConversionError) as info:
        convert(flex_reference, "fp32", tmp_path)
    assert "MatrixDeterminant" in info.value.message and "Select TF ops" in info.value.message
    assert "allow_flex" in info.value.hint


def test_flex_ops_allowed_on_request_are_recorded(flex_reference, tmp_path):
    artifact = convert(flex_reference, "fp32", tmp_path, allow_flex=True, analyze=False)
    assert artifact.metadata["flex_ops"] == ["FlexMatrixDeterminant"]


def test_keep_float_leaves_named_layers_in_float(
    tiny_reference, tiny_calibration, reference_outputs, tmp_path
):
    artifact = convert(tiny_reference, "int8", tmp_path, tiny_calibration, keep_float=["conv2d_1"])
    assert artifact.metadata["kept_float_layers"] and all(
        "conv2d_1" in n for n in artifact.metadata["kept_float_layers"]
    )
    assert artifact.inputs[0].dtype == "float32"
    x, ref = reference_outputs
    assert compare(ref, load_session(artifact, 1).predict(x), None, "int8").verdict == "pass"


def test_keep_float_with_no_matching_layer_lists_the_layers(tiny_reference, tiny_calibration, tmp_path):
    with pytest.raises(ConversionError, match="none of .* matches") as info:
        convert(tiny_reference, "int8", tmp_path, tiny_calibration, keep_float=["no_such_layer"])
    assert "conv2d" in info.value.hint


def test_layer_errors_rank_layers_worst_first(tiny_reference, tiny_calibration):
    from edgekit.convert.tflite_debug import layer_errors

    rows = layer_errors(tiny_reference, tiny_calibration, tiny_calibration[:8], top=3)
    # a healthy model: no layer loses most of its signal, so RMSE alone ranks them
    assert all(r["signal_lost"] < 0.5 for r in rows)
    assert len(rows) == 3 and rows[0]["rmse"] >= rows[1]["rmse"] >= rows[2]["rmse"] > 0
    # a tf_keras model: every op has its Keras layer, except the output tensor the signature renames
    assert all(r["keras_layers"] for r in rows if not r["layer"].startswith("StatefulPartitionedCall"))
    assert all(not r["layer"].startswith("NumericVerify") for r in rows)


def test_litert_refuses_a_model_changed_since_conversion(tiny_reference, tmp_path):
    from edgekit.errors import RuntimeLoadError

    artifact = convert(tiny_reference, "fp32", tmp_path, analyze=False)
    data = bytearray(artifact.path.read_bytes())
    data[-1] ^= 0xFF
    artifact.path.write_bytes(bytes(data))
    with pytest.raises(RuntimeLoadError, match="changed since it was converted"):
        load_session(artifact, threads=1)


@pytest.mark.parametrize("fmt", sorted(FORMATS.names()))
def test_every_format_refuses_a_mode_it_does_not_declare(fmt, tiny_reference, tmp_path):
    plugin = FORMATS.get(fmt)
    with pytest.raises(ConversionError, match=f"{fmt} has no quant mode 'int4'"):
        plugin.convert(ConversionRequest(tiny_reference, fmt, "int4", tmp_path))
    assert list(tmp_path.iterdir()) == []
