"""The int8 ONNX modes of large models run in a process of their own (edgekit/convert/onnx_quant_apart.py):
the same file as in the conversion process, the same warnings, the same errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.convert import FORMATS, ConversionRequest, onnx_quant_apart
from edgekit.convert.onnx_export import collect_warnings
from edgekit.convert.onnx_quant import QUANTIZERS
from edgekit.errors import ConversionError
from edgekit.fsutil import sha256_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_onnx import SIZE, tiny_onnx  # noqa: E402


@pytest.fixture
def apart(monkeypatch):
    """Every int8 mode apart, whatever the model's size, each weight quantized 7 elements at a time."""
    monkeypatch.setattr(onnx_quant_apart, "APART_BYTES", 0)
    monkeypatch.setattr(onnx_quant_apart, "QUANTIZE_CHUNK", 7)


def _calibration(n: int = 4, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(1).random((n, size, size, 3), dtype=np.float32)


def _in_process(mode: str, src: Path, tmp: Path, calibration) -> tuple[Path, dict, list[str]]:
    warnings: list[str] = []
    with collect_warnings(("",), warnings):
        path, settings = QUANTIZERS[mode](src, tmp, calibration)
    return path, settings, warnings


@pytest.mark.parametrize("mode", ["dynamic-int8", "int8"])
@pytest.mark.parametrize("qdq", [False, True], ids=["float", "qdq"])
def test_apart_writes_the_same_file_as_in_process(mode, qdq, apart, tmp_path):
    src = tiny_onnx(tmp_path / "fp32" / "fp32.onnx", qdq)
    calibration = _calibration() if mode == "int8" else None
    (tmp_path / "here").mkdir(), (tmp_path / "there").mkdir()
    here, settings_here, warnings_here = _in_process(mode, src, tmp_path / "here", calibration)
    warnings = ["from the export"]
    assert onnx_quant_apart.runs_apart(mode, src)
    there, settings_there = onnx_quant_apart.quantize(mode, src, tmp_path / "there", calibration, warnings)
    assert there.parent == tmp_path / "there" and there.name == here.name
    assert sha256_file(there) == sha256_file(here)
    assert settings_there == settings_here
    assert warnings == ["from the export", *warnings_here]
    if (
        qdq and mode == "dynamic-int8"
    ):  # the warnings come across: "...check if the model is already quantized"
        assert warnings_here
    # the process's own files are gone; the quantizer's are where it leaves them in process
    assert sorted(p.name for p in (tmp_path / "there").iterdir()) == sorted(
        p.name for p in (tmp_path / "here").iterdir()
    )


def test_only_int8_modes_of_large_models_run_apart(monkeypatch, tmp_path):
    src = tiny_onnx(tmp_path / "fp32.onnx")
    size = src.stat().st_size
    monkeypatch.setattr(onnx_quant_apart, "APART_BYTES", size - 1)
    assert [m for m in QUANTIZERS if onnx_quant_apart.runs_apart(m, src)] == ["dynamic-int8", "int8"]
    monkeypatch.setattr(onnx_quant_apart, "APART_BYTES", size)
    assert not [m for m in QUANTIZERS if onnx_quant_apart.runs_apart(m, src)]
    # a model with external data: its data file counts too
    src.with_name("fp32.onnx.data").write_bytes(b"\0")
    assert onnx_quant_apart.runs_apart("int8", src)


def test_a_conversion_error_apart_keeps_its_message_and_hint(apart, tmp_path):
    src = tiny_onnx(tmp_path / "fp32.onnx")
    wrong = _calibration(size=SIZE * 2)
    (tmp_path / "here").mkdir(), (tmp_path / "there").mkdir()
    with pytest.raises(ConversionError) as here:
        _in_process("int8", src, tmp_path / "here", wrong)
    with pytest.raises(ConversionError) as there:
        onnx_quant_apart.quantize("int8", src, tmp_path / "there", wrong, [])
    assert (there.value.message, there.value.hint) == (here.value.message, here.value.hint)
    assert "calibration samples have shape" in there.value.message


def test_another_exception_apart_is_worded_as_in_process(apart, tmp_path):
    src = tmp_path / "fp32.onnx"
    src.write_bytes(b"not a model" * 100)
    (tmp_path / "here").mkdir(), (tmp_path / "there").mkdir()
    with pytest.raises(Exception) as here:
        _in_process("dynamic-int8", src, tmp_path / "here", None)
    with pytest.raises(ConversionError) as there:
        onnx_quant_apart.quantize("dynamic-int8", src, tmp_path / "there", None, [])
    expected = onnx_quant_apart.failed_after_export(
        "dynamic-int8", type(here.value).__name__, str(here.value)
    )
    assert str(there.value) == str(expected)
    assert str(there.value).startswith("onnx dynamic-int8 conversion failed after tf2onnx: ")


def test_a_process_that_dies_is_a_conversion_error(apart, monkeypatch, tmp_path):
    src = tiny_onnx(tmp_path / "fp32.onnx")
    die = "import sys; sys.stderr.write('first\\nlast words\\n'); sys.exit(3)"
    monkeypatch.setattr(onnx_quant_apart, "_command", lambda *_: [sys.executable, "-c", die])
    (tmp_path / "tmp").mkdir()
    with pytest.raises(ConversionError, match=r"exit status 3\): first / last words"):
        onnx_quant_apart.quantize("int8", src, tmp_path / "tmp", _calibration(), [])
    assert not list((tmp_path / "tmp").iterdir())  # the calibration file is gone too


def test_the_plugin_gives_the_same_artifact_apart(tiny_reference, tiny_calibration, monkeypatch, tmp_path):
    """Through the ONNX plugin (TensorFlow imported in this process): same model file, same record."""
    plugin = FORMATS.get("onnx")

    def convert(out: Path):
        request = ConversionRequest(tiny_reference, "onnx", "int8", out, tiny_calibration[:8], {}, {})
        return plugin.convert(request)

    here = convert(tmp_path / "here")
    monkeypatch.setattr(onnx_quant_apart, "APART_BYTES", 0)
    there = convert(tmp_path / "there")
    assert there.sha256 == here.sha256 and there.size_bytes == here.size_bytes
    assert json.dumps(there.metadata, sort_keys=True) == json.dumps(here.metadata, sort_keys=True)
    shutil.rmtree(tmp_path / "here"), shutil.rmtree(tmp_path / "there")


@pytest.mark.parametrize("qtype", ["INT8", "UINT8", "INT16", "UINT16"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_quantizing_in_chunks_gives_the_same_values(qtype, symmetric, monkeypatch):
    import onnx
    from onnxruntime.quantization import quant_utils

    monkeypatch.setattr(quant_utils, "quantize_nparray", quant_utils.quantize_nparray)  # restored after
    whole = quant_utils.quantize_nparray
    rng = np.random.default_rng(3)
    weight = (rng.standard_normal((37, 11)) * 0.2).astype(np.float32)
    weight[0, :3] = [0.0, -1e-9, 7.5]  # zeros, a tiny value, an outlier
    kind = getattr(onnx.TensorProto, qtype)
    zero_point, scale = quant_utils.compute_data_quant_params(weight.ravel(), kind, symmetric)
    expected = whole(kind, weight.ravel(), scale, zero_point)
    onnx_quant_apart._quantize_in_chunks(10)
    chunked = quant_utils.quantize_nparray
    assert chunked is not whole
    for data in (weight.ravel(), weight):  # flat, and any shape
        got = chunked(kind, data, scale, zero_point)
        assert got.dtype == expected.dtype and got.shape == data.shape
        assert np.array_equal(got.ravel(), expected)
    # per-channel scales are passed on whole, as are small arrays
    scales = np.full((37, 1), scale, np.float32)
    assert np.array_equal(chunked(kind, weight, scales, zero_point), whole(kind, weight, scales, zero_point))
