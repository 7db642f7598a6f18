"""The tf2onnx export (edgekit/convert/onnx_export.py): the memory-lean path gives tf2onnx's model.

On the tiny reference, with the weight threshold lowered so that its weights are set aside during
grappler as a large model's are: same ops, same initializer values, bitwise-equal outputs in ONNX
Runtime as tf2onnx's own path. Also: the external-data layout (forced on the tiny model), and the
fallback to tf2onnx's own path when the lean one fails.
"""

from __future__ import annotations

import collections
import hashlib
from pathlib import Path

import numpy as np
import pytest

from edgekit.convert import onnx_export, onnx_external, onnx_lean

OPSET = 17


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _initializer_digests(model) -> collections.Counter:
    from onnx import numpy_helper

    return collections.Counter(
        hashlib.sha256(numpy_helper.to_array(i).tobytes()).hexdigest() for i in model.graph.initializer
    )


@pytest.fixture(scope="module")
def inputs(tiny_reference) -> np.ndarray:
    import json

    shape = json.loads((tiny_reference / "preprocessing.json").read_text()).get("input_size", [32, 32])
    return np.random.default_rng(0).random((1, *shape[:2], 3), dtype=np.float32)


@pytest.fixture(scope="module")
def upstream(tiny_reference, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("upstream") / "model.onnx"
    onnx_export._export_upstream(tiny_reference / "saved_model", OPSET, out)
    return out


def test_lean_export_is_tf2onnx_model(tiny_reference, upstream, inputs, tmp_path, monkeypatch):
    import onnx

    set_aside: list[int] = []
    original = onnx_lean.set_weights_aside

    def spy(graph_def, keep, weights):
        lean, values = original(graph_def, keep, weights)
        set_aside.append(len(values))
        return lean, values

    monkeypatch.setattr(onnx_lean, "STUB_MIN_BYTES", 256)
    monkeypatch.setattr(onnx_lean, "set_weights_aside", spy)
    warnings: list[str] = []
    out = onnx_export.export_fp32(tiny_reference / "saved_model", OPSET, tmp_path / "model.onnx", warnings)
    assert not [w for w in warnings if w.startswith("edgekit:")], warnings
    assert set_aside and set_aside[0] > 0  # grappler saw Placeholders for the weights
    ours, theirs = onnx.load(str(out)), onnx.load(str(upstream))
    assert [n.op_type for n in ours.graph.node] == [n.op_type for n in theirs.graph.node]
    for field in ("ir_version", "producer_name", "producer_version", "opset_import", "doc_string"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.graph.name == theirs.graph.name and ours.graph.doc_string == theirs.graph.doc_string
    assert _initializer_digests(ours) == _initializer_digests(theirs)
    assert np.array_equal(_run(out, inputs), _run(upstream, inputs))
    assert not (tmp_path / "model.onnx.data").exists()


def test_external_data_beside_the_model(tiny_reference, upstream, inputs, tmp_path, monkeypatch):
    import onnx

    monkeypatch.setattr(onnx_external, "EXTERNAL_DATA_THRESHOLD", -1)
    monkeypatch.setattr(onnx_external, "INLINE_MAX_BYTES", 64)
    warnings: list[str] = []
    out = onnx_export.export_fp32(tiny_reference / "saved_model", OPSET, tmp_path / "model.onnx", warnings)
    assert not [w for w in warnings if w.startswith("edgekit:")], warnings
    data = tmp_path / "model.onnx.data"
    assert data.is_file() and data.stat().st_size > 0
    header = onnx.load(str(out), load_external_data=False)
    external = [t for t in header.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and all(
        {e.key: e.value for e in t.external_data}["location"] == data.name for t in external
    )
    full = onnx.load(str(out))
    onnx.checker.check_model(full, full_check=True)
    assert _initializer_digests(full) == _initializer_digests(onnx.load(str(upstream)))
    assert np.array_equal(_run(out, inputs), _run(upstream, inputs))


def test_lean_failure_falls_back_to_tf2onnx(tiny_reference, upstream, inputs, tmp_path, monkeypatch):
    from tf2onnx import optimizer

    original = optimizer.optimize_graph

    def failing(graph, catch_errors=True, optimizers=None):
        if not catch_errors:
            raise RuntimeError("optimizer broke")
        return original(graph, catch_errors, optimizers)

    monkeypatch.setattr(optimizer, "optimize_graph", failing)
    warnings: list[str] = []
    out = onnx_export.export_fp32(tiny_reference / "saved_model", OPSET, tmp_path / "model.onnx", warnings)
    assert any("optimizer broke" in w and "the way tf2onnx does" in w for w in warnings), warnings
    assert np.array_equal(_run(out, inputs), _run(upstream, inputs))


def test_freezing_apart_gives_the_same_model(tiny_reference, upstream, inputs, tmp_path, monkeypatch):
    """Large models are loaded and frozen in a process of their own; forced here on the tiny one."""
    import onnx

    monkeypatch.setattr(onnx_export, "FREEZE_APART_BYTES", -1)
    warnings: list[str] = []
    out = onnx_export.export_fp32(tiny_reference / "saved_model", OPSET, tmp_path / "model.onnx", warnings)
    assert not [w for w in warnings if w.startswith("edgekit:")], warnings
    assert _initializer_digests(onnx.load(str(out))) == _initializer_digests(onnx.load(str(upstream)))
    assert np.array_equal(_run(out, inputs), _run(upstream, inputs))
