"""The memory-lean TF.js conversion (edgekit/convert/tfjs_lean.py) writes tensorflowjs's files.

On three tiny models built here (conv + batch norm + relu / PReLU, depthwise conv, dense with
several weights), in every quant mode, with the weight threshold lowered so that their weights are held by
token and set aside during grappler as a large model's are: every weight shard is byte for byte
tensorflowjs's, and model.json is the same JSON document. (Not the same bytes: tensorflowjs
writes each node's attributes in protobuf map order, which differs from run to run of
tensorflowjs itself.) Also: the chunked quantization and the streaming shard writer against
tensorflowjs's own, and the fallback to tensorflowjs's own path when the lean one fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.convert import FORMATS, ConversionRequest, onnx_lean, tfjs, tfjs_lean
from edgekit.convert._tfjs_imports import import_tfjs_converter

DTYPES = (None, "float16", "uint8", "uint16")
SHARD = 1 << 14  # small shards, so that weights straddle shard boundaries


def _model(kind: str):
    import tf_keras

    tf_keras.utils.set_random_seed(3)
    L = tf_keras.layers
    inputs = tf_keras.Input((12, 12, 3), name="image")
    if kind == "conv-bn-relu":
        x = L.Conv2D(16, 3, use_bias=False)(inputs)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Conv2D(24, 3)(x)
        x = L.BatchNormalization(epsilon=1e-3)(x)
        x = L.PReLU()(x)  # tensorflowjs fuses it, reading its alpha (held by token here)
        x = L.GlobalAveragePooling2D()(x)
    elif kind == "depthwise":
        x = L.DepthwiseConv2D(3, depth_multiplier=4)(inputs)
        x = L.BatchNormalization()(x)
        x = L.ReLU(6.0)(x)
        x = L.Conv2D(32, 1, activation="relu")(x)
        x = L.GlobalAveragePooling2D()(x)
    else:
        x = L.Flatten()(inputs)
        x = L.Dense(64, activation="relu")(x)
        x = L.Dense(48, activation="tanh")(x)
        x = L.Dense(32)(x)
    model = tf_keras.Model(inputs, L.Dense(3, activation="softmax", name="probabilities")(x))
    rng = np.random.default_rng(11)  # non-trivial batch-norm statistics (variances > 0)
    model.set_weights([rng.uniform(0.2, 1.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, Path]:
    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    root = tmp_path_factory.mktemp("lean-refs")
    return {
        kind: export_reference(_model(kind), root / kind, Preprocessing((12, 12)), ("a", "b", "c"))
        for kind in ("conv-bn-relu", "depthwise", "dense")
    }


def _convert(saved_model: Path, out: Path, dtype: str | None, lean: bool) -> None:
    converter = import_tfjs_converter()
    kwargs = {
        "signature_def": "serving_default",
        "saved_model_tags": "serve",
        "quantization_dtype_map": {dtype: True} if dtype else None,
        "weight_shard_size_bytes": SHARD,
        "metadata": {"edgekit": {"quant": str(dtype)}},
    }
    if lean:
        tfjs_lean.convert(converter, str(saved_model), str(out), **kwargs)
    else:
        converter.convert_tf_saved_model(str(saved_model), str(out), **kwargs)


def assert_same_files(ours: Path, theirs: Path) -> None:
    """Every weight shard byte for byte; model.json the same document (map order aside)."""
    names = sorted(p.name for p in ours.iterdir())
    assert names == sorted(p.name for p in theirs.iterdir())
    assert any(name.endswith(".bin") for name in names)
    for name in names:
        if name != tfjs.MODEL_JSON:
            assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    mine, upstream = (json.loads((d / tfjs.MODEL_JSON).read_text()) for d in (ours, theirs))
    assert mine == upstream  # dicts compare without order, node and weight lists with it
    assert json.dumps(mine, sort_keys=True) == json.dumps(upstream, sort_keys=True)


@pytest.mark.parametrize("kind", ["conv-bn-relu", "depthwise", "dense"])
def test_lean_conversion_writes_tensorflowjs_files(references, kind, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_lean, "STUB_MIN_BYTES", 256)
    set_aside: list[int] = []
    original = tfjs_lean.set_weights_aside

    def spy(graph_def, keep, weights):
        lean, values = original(graph_def, keep, weights)
        set_aside.append(sum(v.startswith(onnx_lean.TOKEN) for v in values.values()))
        return lean, values

    monkeypatch.setattr(tfjs_lean, "set_weights_aside", spy)
    saved_model = references[kind] / "saved_model"
    for dtype in DTYPES:
        _convert(saved_model, tmp_path / f"up-{dtype}", dtype, lean=False)
        _convert(saved_model, tmp_path / f"lean-{dtype}", dtype, lean=True)
        assert_same_files(tmp_path / f"lean-{dtype}", tmp_path / f"up-{dtype}")
    # both grappler passes of every mode saw weights held by token, set aside
    assert len(set_aside) == 2 * len(DTYPES) and min(set_aside) > 0


def test_convert_tfjs_takes_the_lean_path(references, tmp_path, monkeypatch):
    calls = []
    original = tfjs_lean.convert
    monkeypatch.setattr(tfjs_lean, "convert", lambda *a, **k: calls.append(1) or original(*a, **k))
    reference = references["conv-bn-relu"]
    artifact = FORMATS.get("tfjs").convert(ConversionRequest(reference, "tfjs", "uint8", tmp_path / "a"))
    assert calls and artifact.metadata["warnings"] == []
    _convert_upstream = tmp_path / "upstream"
    import_tfjs_converter().convert_tf_saved_model(
        str(reference / "saved_model"),
        str(_convert_upstream),
        quantization_dtype_map={"uint8": True},
        metadata=json.loads(artifact.path.read_text())["userDefinedMetadata"],
    )
    assert_same_files(artifact.folder, _convert_upstream)


def test_failing_lean_path_falls_back_to_tensorflowjs_with_a_warning(references, tmp_path, monkeypatch):
    def broken(converter, saved_model, out, **kwargs):
        (Path(out) / "group1-shard1of9.bin").write_bytes(b"partial")
        raise RuntimeError("no luck")

    monkeypatch.setattr(tfjs_lean, "convert", broken)
    reference = references["depthwise"]
    artifact = FORMATS.get("tfjs").convert(ConversionRequest(reference, "tfjs", "fp16", tmp_path / "a"))
    assert artifact.metadata["warnings"] == [
        "edgekit: the memory-lean TF.js conversion failed (RuntimeError: no luck); "
        "converted again the way tensorflowjs does"
    ]
    assert not (artifact.folder / "group1-shard1of9.bin").exists()
    assert json.loads(artifact.path.read_text())["weightsManifest"][0]["paths"] == ["group1-shard1of1.bin"]


def test_unsupported_ops_are_not_converted_twice(references, tmp_path, monkeypatch):
    """tensorflowjs's op check sees the same graph on either path: its refusal is final."""
    from edgekit.errors import ConversionError

    calls = []

    def refused(converter, saved_model, out, **kwargs):
        calls.append(1)
        raise ValueError("Unsupported Ops in the model before optimization\nFancyOp")

    monkeypatch.setattr(tfjs_lean, "convert", refused)
    monkeypatch.setattr(
        import_tfjs_converter(), "convert_tf_saved_model", lambda *a, **k: calls.append("upstream")
    )
    with pytest.raises(ConversionError, match="Unsupported Ops in the model before optimization"):
        FORMATS.get("tfjs").convert(ConversionRequest(references["dense"], "tfjs", "fp32", tmp_path / "a"))
    assert calls == [1]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16])
@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(0, 1, 10_000),  # zero inside the range: the nudged minimum
        np.random.default_rng(1).uniform(0.5, 3.0, 10_000),  # all positive
        np.random.default_rng(2).uniform(-3.0, -0.5, 10_000),  # all negative
        np.full(5_000, 0.75),  # one value
        np.array([1.0]),
    ],
)
def test_chunked_quantization_is_tensorflowjs_quantization(values, dtype, monkeypatch):
    import_tfjs_converter()  # puts tensorflowjs on the path
    from tensorflowjs import quantization

    monkeypatch.setattr(tfjs_lean, "CHUNK_ELEMENTS", 999)
    data = values.astype(np.float32)
    expected, expected_meta = quantization.quantize_weights(data, dtype)
    quantize, meta = tfjs_lean.quantizer(data, dtype)
    got = np.concatenate([quantize(data[s : s + 999]) for s in range(0, data.size, 999)])
    assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    assert meta == expected_meta
    assert [type(v) for v in meta.values()] == [type(v) for v in expected_meta.values()]


@pytest.mark.parametrize("shard_size", [1000, 4096, 1 << 22])
@pytest.mark.parametrize(
    "dtype_map", [None, {"uint8": True}, {"float16": True}, {"uint16": ["w*"], "uint8": True}]
)
def test_streaming_writer_is_tensorflowjs_writer(tmp_path, monkeypatch, shard_size, dtype_map):
    import_tfjs_converter()  # puts tensorflowjs on the path
    from tensorflowjs import write_weights as upstream

    monkeypatch.setattr(tfjs_lean, "CHUNK_ELEMENTS", 333)
    rng = np.random.default_rng(5)

    def groups():
        return [
            [
                {"name": "w1", "data": rng.normal(0, 1, (17, 31)).astype(np.float32)},
                {"name": "counts", "data": np.arange(700, dtype=np.int32)},
                {"name": "b1", "data": rng.normal(0, 1, 2_000).astype(np.float64)},  # written as float32
                {"name": "flags", "data": np.array([True, False, True])},
                {"name": "words", "data": np.array([b"a", b"tfjs", b""], dtype=object)},
                {"name": "w2", "data": np.asfortranarray(rng.normal(0, 1, (40, 50)).astype(np.float32))},
            ],
            [{"name": "g2", "data": rng.uniform(-1, 1, 3_000).astype(np.float32)}],
        ]

    rng = np.random.default_rng(5)
    theirs_dir, ours_dir = tmp_path / "theirs", tmp_path / "ours"
    theirs_dir.mkdir()
    ours_dir.mkdir()
    theirs = upstream.write_weights(groups(), str(theirs_dir), shard_size, True, dtype_map)
    rng = np.random.default_rng(5)
    ours = tfjs_lean.write_weights(groups(), str(ours_dir), shard_size, True, dtype_map)
    assert json.dumps(ours) == json.dumps(theirs)
    assert sorted(p.name for p in ours_dir.iterdir()) == sorted(p.name for p in theirs_dir.iterdir())
    for path in theirs_dir.iterdir():
        assert (ours_dir / path.name).read_bytes() == path.read_bytes(), path.name


def test_cleared_output_keeps_the_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x").write_text("x")
    (tmp_path / "y.bin").write_text("y")
    tfjs._clear(tmp_path)
    assert tmp_path.is_dir() and not list(tmp_path.iterdir())


@pytest.mark.slow  # MobileNetV2 (weights=None) built and converted eight times: about 30 s
def test_lean_conversion_writes_tensorflowjs_files_for_mobilenet_v2(tmp_path):
    """The default weight threshold on a real backbone (depthwise convs, batch norms, ReLU6, 3.5 M weights)."""
    import tf_keras

    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    model = tf_keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3), classes=10)
    reference = export_reference(model, tmp_path / "ref", Preprocessing((224, 224)), tuple("abcdefghij"))
    for dtype in DTYPES:
        _convert(reference / "saved_model", tmp_path / f"up-{dtype}", dtype, lean=False)
        _convert(reference / "saved_model", tmp_path / f"lean-{dtype}", dtype, lean=True)
        assert_same_files(tmp_path / f"lean-{dtype}", tmp_path / f"up-{dtype}")


def test_a_step_forgets_only_the_weights_it_left_unused():
    from tensorflow.core.framework import graph_pb2

    weights = onnx_lean.Weights()
    tokens = [weights.token(np.zeros(3, np.float32)) for _ in range(3)]  # 0 replaced, 1 kept, 2 elsewhere

    def graph(*held):
        graph_def = graph_pb2.GraphDef()
        for i, token in enumerate(held):
            graph_def.node.add(name=f"w{i}", op="Const").attr["value"].tensor.tensor_content = token
        return graph_def

    tfjs_lean._drop_unused(weights, graph(tokens[0], tokens[1]), graph(tokens[1]))
    assert sorted(weights.arrays) == [1, 2]
    assert weights.token(np.ones(2, np.float32)) not in tokens  # a new weight never takes a forgotten key
    assert sorted(weights.arrays) == [1, 2, 3]
    weights.take(tokens[2])  # nor a key handed over (the ONNX export's reads)
    assert weights.token(np.ones(1, np.float32)) not in tokens and sorted(weights.arrays) == [1, 3, 4]
