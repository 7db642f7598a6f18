"""The ONNX format plugin on the tiny reference: every declared quant mode, checks, errors, metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit.convert import FORMATS, ConversionRequest
from edgekit.errors import ConversionError, UsageError
from edgekit.fsutil import sha256_file

PLUGIN = FORMATS.get("onnx")
MODES = PLUGIN.quant_modes
N_PARITY = 32
# (max abs error, min top-1 agreement) against the reference SavedModel, per quant mode.
PARITY = {"fp32": (1e-4, 1.0), "fp16": (1e-2, 1.0), "dynamic-int8": (0.15, 0.8), "int8": (0.15, 0.8)}


def tiny_images(n: int, input_size=(32, 32), seed: int = 0) -> np.ndarray:
    """Same recipe as tests/conftest.py's helper (importing `conftest` by name is ambiguous with nested conftests)."""
    from edgekit.train.shapes import generate_shapes

    images, _, _ = generate_shapes(n, size=input_size[0], noise=0.1, seed=seed)
    return images.astype(np.float32) / 255.0


def _convert(reference: Path, out_dir: Path, quant: str, calibration=None, options=None, metadata=None):
    request = ConversionRequest(reference, "onnx", quant, out_dir, calibration, options or {}, metadata or {})
    return PLUGIN.convert(request)


@pytest.fixture(scope="module")
def artifacts(tiny_reference, tiny_calibration, tmp_path_factory):
    """One artifact per declared mode, converted once for the module."""
    root = tmp_path_factory.mktemp("onnx")
    return {
        m: _convert(tiny_reference, root / m, m, tiny_calibration, metadata={"source": "tests"})
        for m in MODES
    }


@pytest.fixture(scope="module")
def parity_inputs():
    return tiny_images(N_PARITY, seed=2)


@pytest.fixture(scope="module")
def reference_outputs(tiny_reference, parity_inputs):
    import tensorflow as tf

    serve = tf.saved_model.load(str(tiny_reference / "saved_model")).signatures["serving_default"]
    return np.concatenate([serve(image=tf.constant(x[None]))["probabilities"].numpy() for x in parity_inputs])


def test_plugin_declares_onnx_and_its_runtime():
    from edgekit.runtimes import RUNTIMES

    assert set(MODES) == {"fp32", "fp16", "dynamic-int8", "int8"}
    assert PLUGIN.default_runtime == "onnxruntime"
    assert "onnx" in RUNTIMES.get(PLUGIN.default_runtime).formats


@pytest.mark.parametrize("mode", MODES)
def test_artifact_is_written_and_described(mode, artifacts, tiny_calibration):
    a = artifacts[mode]
    assert (a.format, a.quant) == ("onnx", mode)
    assert a.path.name == "model.onnx" and a.path.is_file()
    # Only the model lands in out_dir: no fp32 intermediate, no temporary files.
    assert sorted(p.name for p in a.folder.iterdir()) == ["model.onnx"]
    assert a.sha256 == sha256_file(a.path) and a.size_bytes == a.path.stat().st_size
    assert [(t.name, t.shape, t.dtype) for t in a.inputs] == [("image", [1, 32, 32, 3], "float32")]
    assert [(t.name, t.shape, t.dtype) for t in a.outputs] == [("probabilities", [1, 3], "float32")]
    assert a.metadata["opset"] == 17
    assert set(a.metadata["converter"]) == {"tf2onnx", "onnx", "onnxruntime", "tensorflow"}
    assert a.metadata["calibration_samples"] == (len(tiny_calibration) if mode == "int8" else 0)
    assert isinstance(a.metadata["warnings"], list) and a.metadata["quantization"]


@pytest.mark.parametrize("mode", MODES)
def test_checker_accepts_artifact(mode, artifacts):
    import onnx

    onnx.checker.check_model(str(artifacts[mode].path), full_check=True)


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def _op_types(path: Path) -> set[str]:
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node}


def _check_fp32(path: Path) -> None:
    assert {v.dtype.name for v in _initializers(path).values()} <= {"float32", "int64"}
    assert not _op_types(path) & {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Cast"}


def _check_fp16(path: Path) -> None:
    weights = [v for v in _initializers(path).values() if v.dtype.kind == "f" and v.size >= 16]
    assert weights and all(v.dtype == np.float16 for v in weights)
    assert "Cast" in _op_types(path)


def _check_dynamic_int8(path: Path) -> None:
    ops = _op_types(path)
    assert "DynamicQuantizeLinear" in ops and ops & {"ConvInteger", "MatMulInteger"}
    assert any(v.dtype == np.int8 for v in _initializers(path).values())


def _check_int8(path: Path) -> None:
    import onnx

    assert {"QuantizeLinear", "DequantizeLinear"} <= _op_types(path)
    model = onnx.load(str(path))
    inits = _initializers(path)
    weight_dq = [
        n
        for n in model.graph.node
        if n.op_type == "DequantizeLinear" and inits.get(n.input[0], np.zeros(0)).dtype == np.int8
    ]
    # per-channel: at least one int8 weight has one scale per output channel
    assert any(inits[n.input[1]].size > 1 for n in weight_dq)


STRUCTURE = {
    "fp32": _check_fp32,
    "fp16": _check_fp16,
    "dynamic-int8": _check_dynamic_int8,
    "int8": _check_int8,
}


@pytest.mark.parametrize("mode", MODES)
def test_graph_matches_quant_mode(mode, artifacts):
    assert mode in STRUCTURE, (
        f"quant mode {mode!r} is declared by the onnx plugin but has no structure check here"
    )
    STRUCTURE[mode](artifacts[mode].path)


@pytest.mark.parametrize("mode", MODES)
def test_runtime_output_matches_reference(mode, artifacts, parity_inputs, reference_outputs):
    from edgekit.runtimes import load_session

    assert mode in PARITY, (
        f"quant mode {mode!r} is declared by the onnx plugin but has no parity threshold here"
    )
    max_err, min_top1 = PARITY[mode]
    session = load_session(artifacts[mode], threads=1)
    try:
        out = session.predict(parity_inputs)
    finally:
        session.close()
    assert out.shape == (N_PARITY, 3) and out.dtype == np.float32
    assert np.abs(out - reference_outputs).max() < max_err
    assert (out.argmax(1) == reference_outputs.argmax(1)).mean() >= min_top1


@pytest.mark.parametrize("mode", MODES)
def test_metadata_props_travel_with_model(mode, artifacts, tiny_reference):
    import onnx

    raw = {p.key: p.value for p in onnx.load(str(artifacts[mode].path)).metadata_props}
    ours = artifacts[mode].metadata["metadata_props"]
    # edgekit's keys are JSON; keys other tools wrote (onnxruntime's "onnx.quant.pre_process") stay as written
    props = {k: json.loads(raw[k]) for k in ours}
    assert props["labels"] == ["a", "b", "c"]
    assert props["preprocessing"] == json.loads((tiny_reference / "preprocessing.json").read_text())
    assert props["input"] == [{"name": "image", "shape": [1, 32, 32, 3], "dtype": "float32"}]
    assert props["quant"] == mode and props["source"] == "tests"
    assert {"labels", "preprocessing", "input", "output", "quant", "source"} == set(ours)


def test_int8_without_calibration_fails_without_writing(tiny_reference, tmp_path):
    with pytest.raises(ConversionError, match="calibration") as err:
        _convert(tiny_reference, tmp_path / "out", "int8", calibration=None)
    assert "random" in str(err.value)  # the hint says no data is invented
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_int8_calibration_of_wrong_size_fails_without_writing(tiny_reference, tmp_path):
    with pytest.raises(ConversionError, match=r"\[16, 16, 3\]"):
        _convert(tiny_reference, tmp_path / "out", "int8", calibration=tiny_images(4, input_size=(16, 16)))
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_int8_calibration_as_uint8_is_refused(tiny_reference, tmp_path):
    images = (tiny_images(4) * 255).astype(np.uint8)
    with pytest.raises(ConversionError, match="uint8"):
        _convert(tiny_reference, tmp_path / "out", "int8", calibration=images)


def test_int8_calibration_with_nan_is_refused(tiny_reference, tmp_path):
    images = tiny_images(4)
    images[1, 0, 0, 0] = np.nan
    with pytest.raises(ConversionError, match="finite"):
        _convert(tiny_reference, tmp_path / "out", "int8", calibration=images)


@pytest.mark.parametrize("opset", [13, 19, "17", True, 17.5])
def test_bad_opset_names_allowed_range(opset, tiny_reference, tmp_path):
    with pytest.raises(UsageError, match="from 14 to 18") as err:
        _convert(tiny_reference, tmp_path, "fp32", options={"opset": opset})
    assert repr(opset) in str(err.value)


def test_unknown_option_suggests_the_known_one(tiny_reference, tmp_path):
    with pytest.raises(UsageError, match="Did you mean 'opset'"):
        _convert(tiny_reference, tmp_path, "fp32", options={"opsett": 17})


def test_opset_option_is_used(tiny_reference, tmp_path):
    import onnx

    a = _convert(tiny_reference, tmp_path, "fp32", options={"opset": 14})
    model = onnx.load(str(a.path))
    assert a.metadata["opset"] == 14
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {14}


def test_unsupported_quant_mode_is_a_conversion_error(tiny_reference, tmp_path):
    with pytest.raises(ConversionError, match="int16x8") as err:
        _convert(tiny_reference, tmp_path, "int16x8")
    assert "fp32" in str(err.value)  # the hint lists what onnx supports


def test_quant_alias_is_accepted(tiny_reference, tmp_path):
    assert _convert(tiny_reference, tmp_path, "float16").quant == "fp16"


def test_missing_saved_model_is_a_conversion_error(tiny_reference, tmp_path):
    broken = tmp_path / "reference"
    shutil.copytree(tiny_reference, broken)
    shutil.rmtree(broken / "saved_model")
    with pytest.raises(ConversionError, match="no SavedModel"):
        _convert(broken, tmp_path / "out", "fp32")


def test_reconversion_replaces_model_atomically(tiny_reference, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"stale")
    a = _convert(tiny_reference, out, "fp32")
    assert a.path.read_bytes() != b"stale" and sorted(p.name for p in out.iterdir()) == ["model.onnx"]
