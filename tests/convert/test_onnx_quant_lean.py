"""The int8 modes' pre-processing (onnx_quant._pre_process_lean) writes what onnxruntime's quant_pre_process
writes, byte for byte, one file or with external data; where it cannot, it leaves it to quant_pre_process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgekit.convert import onnx_external, onnx_quant
from edgekit.fsutil import sha256_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_onnx import tiny_onnx  # noqa: E402

EXTERNAL = {
    "save_as_external_data": True,
    "all_tensors_to_one_file": True,
    "external_data_location": onnx_external.data_file_name("pre.onnx"),
}


def _files(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("external", [False, True], ids=["one-file", "external-data"])
@pytest.mark.parametrize("qdq", [False, True], ids=["float", "qdq"])
def test_lean_pre_processing_writes_what_quant_pre_process_writes(external, qdq, tmp_path):
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = tiny_onnx(tmp_path / "fp32" / "fp32.onnx", qdq)
    if external:  # as a model over 2 GiB comes from the export: its tensors in a file beside it
        import onnx

        model = onnx.load(str(src))
        onnx.save_model(
            model, str(src), save_as_external_data=True, location="fp32.onnx.data", size_threshold=0
        )
    options = EXTERNAL if external else {}
    (tmp_path / "theirs").mkdir(), (tmp_path / "ours").mkdir()
    quant_pre_process(str(src), str(tmp_path / "theirs" / "pre.onnx"), skip_symbolic_shape=True, **options)
    assert onnx_quant._pre_process_lean(src, tmp_path / "ours" / "pre.onnx", options)
    ours, theirs = _files(tmp_path / "ours"), _files(tmp_path / "theirs")
    assert ours == theirs
    assert sorted(ours) == (["pre.onnx", "pre.onnx.data"] if external else ["pre.onnx"])


def test_a_model_onnxruntime_cannot_optimize_is_left_to_quant_pre_process(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Mystery", ["x"], ["y"], domain="example.unknown")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.unknown", 1)]
    )
    src = tmp_path / "odd.onnx"
    onnx.save(model, str(src))
    out = tmp_path / "out"
    out.mkdir()
    assert not onnx_quant._pre_process_lean(src, out / "pre.onnx", {})
    assert not list(out.iterdir())


def test_pre_processing_uses_the_lean_way_without_sympy(monkeypatch, tmp_path):
    """Without sympy (edgekit's own install), quant_pre_process is not called for a model it can optimize."""
    import builtins

    real_import = builtins.__import__

    def no_sympy(name, *args, **kwargs):
        if name == "sympy":
            raise ImportError("no sympy here")
        return real_import(name, *args, **kwargs)

    from onnxruntime.quantization import shape_inference

    monkeypatch.setattr(builtins, "__import__", no_sympy)
    monkeypatch.setattr(shape_inference, "quant_pre_process", lambda *a, **k: pytest.fail("not lean"))
    src = tiny_onnx(tmp_path / "fp32.onnx")
    out, note = onnx_quant._pre_process(src, tmp_path, False)
    assert out == tmp_path / "pre.onnx" and out.is_file()
    assert (
        note
        == "onnx shape inference + ORT optimization (symbolic shape inference skipped: sympy not installed)"
    )


@pytest.mark.parametrize("qdq", [False, True], ids=["float", "qdq"])
def test_calibrating_before_quantize_static_writes_the_same_model(qdq, monkeypatch, tmp_path):
    """int8 calibrates first and hands quantize_static the ranges through its cache: the same model
    as when quantize_static calibrates itself."""
    import numpy as np

    src = tiny_onnx(tmp_path / "fp32.onnx", qdq)
    calibration = np.random.default_rng(1).random((4, 8, 8, 3), dtype=np.float32)
    (tmp_path / "first").mkdir(), (tmp_path / "itself").mkdir()
    first, settings_first = onnx_quant.QUANTIZERS["int8"](src, tmp_path / "first", calibration)
    assert (tmp_path / "first" / "calibration.json").is_file()
    monkeypatch.setattr(onnx_quant, "_calibrate", lambda *a: None)
    itself, settings_itself = onnx_quant.QUANTIZERS["int8"](src, tmp_path / "itself", calibration)
    assert sha256_file(first) == sha256_file(itself)
    assert settings_first == settings_itself
