"""ONNX models beyond the protobuf limit: model.onnx + model.onnx.data through edgekit's whole path.

The threshold (onnx_external.EXTERNAL_DATA_THRESHOLD, 2 GiB less headroom) is lowered to a few
hundred bytes, so a tiny model built with onnx.helper takes the external-data path: conversion in
every quant mode, metadata, checker, ONNX Runtime, the artifact's hash and size, bench loading,
bundle + verify and device staging. The tf2onnx export is replaced by writing that model (no
TensorFlow here); tests/perf/test_onnx_large.py runs a real model over 2 GiB.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import edgekit.convert.onnx as onnx_plugin
from edgekit.artifact import Artifact
from edgekit.convert import ConversionRequest, onnx_external, onnx_fp32_memo
from edgekit.errors import ConversionError, RuntimeLoadError, UsageError
from edgekit.fsutil import sha256_file, sha256_tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))  # synthetic.py: run folders in code

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

MODES = ("fp32", "fp16", "dynamic-int8", "int8")
SMALL_THRESHOLD = 1000  # bytes: the 12 KiB first weight is over it, the 768-byte second is not
DATA = "model.onnx.data"
TOLERANCE = {"fp32": 1e-6, "fp16": 1e-2, "dynamic-int8": 0.1, "int8": 0.1}


def tiny_model(seed: int = 0):
    """image [1, 4, 4, 3] -> Flatten -> MatMul(48x64) -> Relu -> MatMul(64x3) -> Softmax."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (48, 64)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (64, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w1"], ["hidden"]),
        helper.make_node("Relu", ["hidden"], ["relu"]),
        helper.make_node("MatMul", ["relu", "w2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 4, 4, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write_model(path: Path, external: bool) -> Path:
    """The model as the export leaves it: one file, or `out` + `out.name + ".data"` beside it."""
    model = tiny_model()
    if external:
        onnx.save(
            model, str(path), save_as_external_data=True, location=path.name + ".data", size_threshold=0
        )
    else:
        onnx.save(model, str(path))
    return path


def run_model(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"image": x[i : i + 1]})[0] for i in range(len(x))])


@pytest.fixture
def export_writes(monkeypatch):
    """Replace the tf2onnx export; the returned dict says whether it writes external data."""
    how = {"external": True, "hook": None}

    def export(saved_model, opset, out, warnings):
        write_model(out, how["external"])
        if how["hook"]:
            how["hook"](out)
        return out

    monkeypatch.setattr(onnx_fp32_memo, "export_fp32", export)
    monkeypatch.setattr(onnx_fp32_memo, "_exports", {})  # every test exports afresh
    monkeypatch.setattr(onnx_plugin, "_versions", lambda: {"onnx": onnx.__version__})
    return how


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(onnx_external, "EXTERNAL_DATA_THRESHOLD", SMALL_THRESHOLD)


@pytest.fixture
def reference(tmp_path):
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "labels.txt").write_text("circle\nsquare\ntriangle\n")
    (ref / "preprocessing.json").write_text(json.dumps({"input_size": [4, 4], "value_range": [0.0, 1.0]}))
    return ref


@pytest.fixture(scope="module")
def samples():
    return np.random.default_rng(1).random((8, 4, 4, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def expected(tmp_path_factory, samples):
    return run_model(write_model(tmp_path_factory.mktemp("plain") / "m.onnx", False), samples)


def convert(reference: Path, out: Path, mode: str, calibration: np.ndarray | None = None) -> Artifact:
    request = ConversionRequest(reference, "onnx", mode, out, calibration, {}, {"source": "tests"})
    return onnx_plugin.convert_onnx(request)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_writes_model_and_data_that_onnxruntime_loads(
    mode, export_writes, small_threshold, reference, tmp_path, samples, expected
):
    a = convert(reference, tmp_path / mode, mode, samples)
    assert sorted(p.name for p in a.folder.iterdir()) == ["model.onnx", DATA]
    assert a.metadata["external_data"] == [DATA]
    # the hash and size cover both files: the folder's tree hash, as `edgekit verify` recomputes it
    assert a.sha256 == sha256_tree(a.folder) != sha256_file(a.path)
    assert a.size_bytes == a.path.stat().st_size + (a.folder / DATA).stat().st_size
    graph_only = onnx.load(str(a.path), load_external_data=False)
    assert onnx_external.locations(graph_only) == [DATA]  # relative: the folder can move
    props = {p.key: p.value for p in graph_only.metadata_props}
    props = {k: json.loads(props[k]) for k in ("quant", "labels", "source")}
    assert props["quant"] == mode and props["labels"] == ["circle", "square", "triangle"]
    assert props["source"] == "tests"
    onnx.checker.check_model(str(a.path), full_check=True)
    np.testing.assert_allclose(run_model(a.path, samples), expected, atol=TOLERANCE[mode])


@pytest.mark.parametrize("mode", MODES)
def test_under_the_threshold_the_artifact_is_one_file_whatever_the_export_wrote(
    mode, export_writes, reference, tmp_path, samples
):
    export_writes["external"] = False
    inline = convert(reference, tmp_path / "inline", mode, samples)
    export_writes["external"] = True
    split = convert(reference, tmp_path / "split", mode, samples)
    for a in (inline, split):
        assert sorted(p.name for p in a.folder.iterdir()) == ["model.onnx"]
        assert a.sha256 == sha256_file(a.path) and a.size_bytes == a.path.stat().st_size
        assert "external_data" not in a.metadata
    assert inline.path.read_bytes() == split.path.read_bytes()


def test_runtime_loads_from_the_path_and_checks_both_files(
    export_writes, small_threshold, reference, tmp_path
):
    from edgekit.runtimes.onnxruntime import load_onnx

    a = convert(reference, tmp_path / "a", "fp32")
    a.save()
    loaded = Artifact.load(a.folder)
    session = load_onnx(loaded, 1)
    assert session.predict(np.zeros((2, 4, 4, 3), np.float32)).shape == (2, 3)

    data = a.folder / DATA
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(RuntimeLoadError, match="changed since it was converted"):
        load_onnx(loaded, 1)
    data.unlink()
    with pytest.raises(RuntimeLoadError, match=r"model\.onnx\.data, which is missing"):
        load_onnx(loaded, 1)


def test_graph_analysis_reads_shapes_without_loading_the_data(
    export_writes, small_threshold, reference, tmp_path, monkeypatch
):
    from edgekit.targets.analysis.onnx import analyze_onnx

    split = convert(reference, tmp_path / "split", "fp32")
    export_writes["external"] = False
    monkeypatch.setattr(
        onnx_external, "EXTERNAL_DATA_THRESHOLD", onnx_external.EXTERNAL_DATA_THRESHOLD * 10**9
    )
    single = convert(reference, tmp_path / "single", "fp32")
    assert (split.folder / DATA).is_file() and not (single.folder / DATA).exists()

    def no_external_loading(*args, **kwargs):
        raise AssertionError("the analysis loaded the external data")

    monkeypatch.setattr(onnx, "load_external_data_for_model", no_external_loading)  # what onnx.load calls
    a, b = analyze_onnx(split.path), analyze_onnx(single.path)
    assert a.ops == b.ops and sum(op.macs for op in a.ops) == 48 * 64 + 64 * 3
    (split.folder / DATA).unlink()
    with pytest.raises(UsageError, match="external data file 'model.onnx.data' is missing"):
        analyze_onnx(split.path)


def test_a_damaged_external_data_record_is_a_load_error(export_writes, small_threshold, reference, tmp_path):
    from edgekit.runtimes.onnxruntime import load_onnx

    a = convert(reference, tmp_path / "a", "fp32")
    a.metadata["external_data"] = ["../elsewhere.data"]
    with pytest.raises(RuntimeLoadError, match="artifact.json is damaged"):
        load_onnx(a, 1)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda out: (out.parent / (out.name + ".data")).unlink(), "missing"),
        (lambda out: _truncate(out.parent / (out.name + ".data")), "truncated"),
        (lambda out: _relocate(out, "../outside.data"), "outside the model's folder"),
    ],
    ids=["missing", "truncated", "outside"],
)
def test_a_broken_export_is_a_conversion_error_and_writes_nothing(
    damage, message, export_writes, small_threshold, reference, tmp_path
):
    export_writes["hook"] = damage
    with pytest.raises(ConversionError, match=message):
        convert(reference, tmp_path / "out", "fp32")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _relocate(model_path: Path, location: str) -> None:
    model = onnx.load(str(model_path), load_external_data=False)
    for init in model.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(model, str(model_path))


def test_a_failed_verification_leaves_no_half_written_artifact(
    export_writes, small_threshold, reference, tmp_path, monkeypatch
):
    def refuse(path):
        assert (path.parent / DATA).is_file()  # the staged model is complete when it is checked
        raise ConversionError("checker says no")

    monkeypatch.setattr(onnx_plugin, "_verify", refuse)
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match="checker says no"):
        convert(reference, out, "fp16")
    assert not out.exists() or not any(out.iterdir())


def test_a_small_model_converted_over_a_large_one_leaves_no_stale_data(
    export_writes, reference, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        m.setattr(onnx_external, "EXTERNAL_DATA_THRESHOLD", SMALL_THRESHOLD)
        convert(reference, out, "fp32")
    assert (out / DATA).is_file()
    a = convert(reference, out, "fp32")
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx"] and a.sha256 == sha256_file(a.path)


def test_bundle_carries_and_checksums_the_data_file(export_writes, small_threshold, reference, tmp_path):
    import synthetic  # tests/report/synthetic.py, on the path as in tests/bundle/conftest.py

    from edgekit.bundle.archive import Entry, read_bundle
    from edgekit.bundle.build import write_bundle
    from edgekit.bundle.verify import verify_bundle, verify_entries
    from edgekit.errors import BundleError

    run = tmp_path / "run"
    a = convert(reference, run / "artifacts" / "onnx-fp32", "fp32")
    a.save()
    row = synthetic.artifact_row("onnx", "fp32", b"", 1.0, 0.9)
    row["artifact"] = a.to_dict()
    report = synthetic.make_report([row])
    report["reference"]["classes"] = ["circle", "square", "triangle"]
    (run / "reference").mkdir()
    shutil.copy2(reference / "labels.txt", run / "reference" / "labels.txt")
    (run / "report.json").write_text(json.dumps(report))

    bundle = write_bundle(run, tmp_path / "b.tar.gz")
    result = verify_bundle(bundle)
    assert not result.problems
    files = {e.name: e.data for e in read_bundle(bundle) if e.kind == "file"}
    folder = "artifacts/onnx-fp32"
    assert files[f"{folder}/{DATA}"] == (a.folder / DATA).read_bytes()
    sums = files["SHA256SUMS"].decode()
    assert f"  {folder}/{DATA}\n" in sums and f"  {folder}/model.onnx\n" in sums
    manifest = json.loads(files["manifest.json"])
    assert manifest["artifacts"][0]["sha256"] == a.sha256
    assert manifest["artifacts"][0]["size_bytes"] == a.size_bytes
    # verify names a data file changed inside the bundle
    changed = [
        Entry(e.name, e.kind, b"x" + e.data[1:]) if e.name.endswith(DATA) and e.data else e
        for e in read_bundle(bundle)
    ]
    problems = verify_entries(changed).problems
    assert len(problems) == 1 and problems[0].startswith(f"{folder}/{DATA}: sha256")

    # a changed data file is refused before bundling, like a changed model file
    raw = bytearray((a.folder / DATA).read_bytes())
    raw[0] ^= 1
    (a.folder / DATA).write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="changed after the report was written"):
        write_bundle(run, tmp_path / "c.tar.gz")
    (a.folder / DATA).unlink()
    with pytest.raises(BundleError, match="keeps its weights there"):
        write_bundle(run, tmp_path / "d.tar.gz")


def test_devices_stage_the_data_file_with_the_model(export_writes, small_threshold, reference, tmp_path):
    from edgekit.bench.targets import BenchTarget
    from edgekit.devices.errors import DeviceError
    from edgekit.devices.remote import stage

    a = convert(reference, tmp_path / "art", "fp32")
    a.save()
    for kind, path in (("artifact-dir", a.folder), ("file", a.path)):
        staged = tmp_path / f"staged-{kind}"
        staged.mkdir()
        stage(BenchTarget(kind, path, "onnx"), staged)
        assert (staged / "artifact" / DATA).read_bytes() == (a.folder / DATA).read_bytes()
        assert (staged / "artifact" / "model.onnx").is_file()

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy2(a.path, bare / "model.onnx")  # the model without its data file
    (tmp_path / "staged-bare").mkdir()
    with pytest.raises(DeviceError, match="keeps its weights in 'model.onnx.data'"):
        stage(BenchTarget("file", bare / "model.onnx", "onnx"), tmp_path / "staged-bare")
