"""The tfjs format plugin: SavedModel → graph model in every quant mode, checked in the Node runtime.

The tiny reference is untrained, so its probabilities stay close to 1/3 (spread ~0.005) and its
top-1 is the same class for every input. Absolute errors and top-1 agreement alone would then pass
for a model that outputs a constant; the parity helper also compares the outputs' deviations from
the reference mean (centered cosine) and the error relative to the reference's spread, which a
constant output fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tiny_models import tiny_images

from edgekit.convert import FORMATS, ConversionRequest
from edgekit.errors import ConversionError
from edgekit.fsutil import sha256_tree, tree_size

MODES = FORMATS.get("tfjs").quant_modes
# Measured on the tiny reference (16 inputs, wasm backend): max |err| fp32 3e-8, fp16 1.9e-5,
# uint8 1.3e-4, uint16 1.5e-6; centered cosine >= 0.9978. Bounds leave ~10x headroom.
BOUNDS = {  # mode: (max |err|, max |err| / reference spread, min centered cosine)
    "fp32": (1e-5, 1e-3, 0.9999),
    "fp16": (2e-4, 2e-2, 0.999),
    "uint8": (2e-3, 1e-1, 0.98),
    "uint16": (2e-5, 2e-3, 0.9999),
}
WEIGHT_DTYPES = {"fp32": None, "fp16": "float16", "uint8": "uint8", "uint16": "uint16"}


def node_ready() -> bool:
    from edgekit.errors import NotInstalledError
    from edgekit.setup.js_runner import ensure_runner

    try:
        ensure_runner(install=False)
    except NotInstalledError:
        return False
    return True


needs_node = pytest.mark.skipif(not node_ready(), reason="TF.js runner not installed: run `edgekit setup js`")


@pytest.fixture(scope="module")
def artifacts(tiny_reference, tmp_path_factory):
    """Every quant mode, converted once for the module."""
    root = tmp_path_factory.mktemp("tfjs")
    convert = FORMATS.get("tfjs").convert
    return {
        mode: convert(
            ConversionRequest(tiny_reference, "tfjs", mode, root / f"tfjs-{mode}", metadata={"run": "test"})
        )
        for mode in MODES
    }


@pytest.fixture(scope="module")
def inputs_and_reference(tiny_reference):
    import tensorflow as tf

    x = tiny_images(16, seed=5)
    serve = tf.saved_model.load(str(tiny_reference / "saved_model")).signatures["serving_default"]
    ref = np.concatenate(
        [serve(image=tf.constant(x[i : i + 1]))["probabilities"].numpy() for i in range(len(x))]
    )
    return x, ref


def parity(y: np.ndarray, ref: np.ndarray) -> tuple[float, float, float, float]:
    err = float(np.abs(y - ref).max())
    centered, ref_centered = (y - ref.mean(0)).ravel(), (ref - ref.mean(0)).ravel()
    cosine = float(centered @ ref_centered / (np.linalg.norm(centered) * np.linalg.norm(ref_centered)))
    top1 = float((y.argmax(1) == ref.argmax(1)).mean())
    return err, err / float(np.ptp(ref)), cosine, top1


def test_plugin_declares_tfjs_weight_modes():
    plugin = FORMATS.get("tf.js")
    assert plugin.name == "tfjs" and plugin.quant_modes == ("fp32", "fp16", "uint8", "uint16")
    assert plugin.default_runtime == "tfjs-node"


@pytest.mark.parametrize("mode", MODES)
def test_artifact_written_with_metadata(artifacts, mode):
    artifact = artifacts[mode]
    model_json = json.loads(artifact.path.read_text())
    embedded = model_json["userDefinedMetadata"]["edgekit"]
    assert embedded["labels"] == ["a", "b", "c"] and embedded["quant"] == mode and embedded["run"] == "test"
    assert embedded["preprocessing"]["input_size"] == [32, 32]
    dtypes = {
        w.get("quantization", {}).get("dtype")
        for g in model_json["weightsManifest"]
        for w in g["weights"]
        if w["dtype"] == "float32"
    }
    assert dtypes == {WEIGHT_DTYPES[mode]}
    assert (artifact.format, artifact.quant, artifact.path.name) == ("tfjs", mode, "model.json")
    assert artifact.sha256 == sha256_tree(artifact.folder) and artifact.size_bytes == tree_size(
        artifact.folder
    )
    assert [(t.name, t.shape, t.dtype) for t in artifact.inputs] == [("image", [1, 32, 32, 3], "float32")]
    assert [(t.shape, t.dtype) for t in artifact.outputs] == [([1, 3], "float32")]
    assert artifact.metadata["quantization_dtype"] == (WEIGHT_DTYPES[mode] or "float32")
    assert artifact.metadata["shard_size_bytes"] == 4 * 1024 * 1024
    assert artifact.metadata["converter"].startswith("TensorFlow.js Converter v4.22")


def test_quantized_weights_are_smaller(artifacts):
    sizes = {mode: sum(p.stat().st_size for p in a.folder.glob("*.bin")) for mode, a in artifacts.items()}
    assert sizes["uint8"] < sizes["uint16"] == sizes["fp16"] < sizes["fp32"]


@needs_node
@pytest.mark.parametrize("mode", MODES)
def test_node_runtime_matches_reference(artifacts, inputs_and_reference, mode):
    from edgekit.runtimes import load_session

    x, ref = inputs_and_reference
    with load_session(artifacts[mode], threads=1) as session:
        y = session.predict(x)
        assert session.info()["runtime"] == "tfjs-node"
    assert y.shape == (16, 3) and y.dtype == np.float32
    err, rel, cosine, top1 = parity(y, ref)
    max_err, max_rel, min_cosine = BOUNDS[mode]
    assert err < max_err and rel < max_rel and cosine > min_cosine, (mode, err, rel, cosine)
    assert top1 >= 0.8


@needs_node
def test_shard_size_splits_weights_and_still_loads(tiny_reference, artifacts, inputs_and_reference, tmp_path):
    from edgekit.runtimes.tfjs import load_node

    request = ConversionRequest(
        tiny_reference, "tfjs", "fp32", tmp_path / "small", options={"shard_size_bytes": 1024}
    )
    artifact = FORMATS.get("tfjs").convert(request)
    shards = sorted(artifact.folder.glob("*.bin"))
    assert len(shards) > 1 and all(p.stat().st_size <= 1024 for p in shards)
    assert artifact.metadata["weight_files"] == [p.name for p in shards]
    x, _ = inputs_and_reference
    with load_node(artifact) as sharded, load_node(artifacts["fp32"]) as single:
        np.testing.assert_array_equal(sharded.predict(x[:4]), single.predict(x[:4]))


@pytest.mark.parametrize(
    "quant, options, message",
    [
        ("int8", {}, "tfjs has no quant mode 'int8'"),
        ("fp32", {"shard_size_bytes": 0}, "shard_size_bytes must be a positive integer"),
        ("fp32", {"shard_size_bytes": "4MB"}, "shard_size_bytes must be a positive integer"),
    ],
)
def test_invalid_requests_are_refused_before_writing(tiny_reference, tmp_path, quant, options, message):
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match=message):
        FORMATS.get("tfjs").convert(ConversionRequest(tiny_reference, "tfjs", quant, out, options=options))
    assert not out.exists()


def test_quant_mode_aliases_are_accepted(tiny_reference, tmp_path):
    artifact = FORMATS.get("tfjs").convert(
        ConversionRequest(tiny_reference, "tfjs", "float16", tmp_path / "a")
    )
    assert artifact.quant == "fp16"


def test_failed_conversion_leaves_nothing(tiny_reference, tmp_path):
    """A SavedModel that TensorFlow cannot parse: ConversionError, no artifact, no temp folder."""
    broken = tmp_path / "reference"
    (broken / "saved_model").mkdir(parents=True)
    (broken / "saved_model" / "saved_model.pb").write_bytes(b"not a protobuf")
    out = tmp_path / "artifacts" / "tfjs-fp32"
    with pytest.raises(ConversionError, match="tensorflowjs could not convert"):
        FORMATS.get("tfjs").convert(ConversionRequest(broken, "tfjs", "fp32", out))
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_missing_reference_is_a_conversion_error(tmp_path):
    with pytest.raises(ConversionError, match="no reference SavedModel"):
        FORMATS.get("tfjs").convert(ConversionRequest(tmp_path, "tfjs", "fp32", tmp_path / "out"))


def test_placeholders_are_scoped_and_idempotent():
    from edgekit.convert._tfjs_imports import TFDF, import_tfjs_converter

    first = import_tfjs_converter()
    assert import_tfjs_converter() is first
    assert hasattr(first, "convert_tf_saved_model")
    assert TFDF not in sys.modules  # the placeholder is gone once the converter is imported


PLACEHOLDER_SCRIPT = textwrap.dedent("""
    import importlib.util, sys
    from edgekit.convert._tfjs_imports import import_tfjs_converter
    converter = import_tfjs_converter()
    import keras, tf_keras
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])(keras.ops.ones((1, 2)))
    assert importlib.util.find_spec("jax") is None, "jax must not be faked"
    assert importlib.util.find_spec("tensorflow_decision_forests") is None
    print("ok", keras.__version__, keras.backend.backend())
""")


def test_placeholders_do_not_break_keras():
    """In a fresh interpreter, so Keras is imported only after the converter and its placeholders."""
    result = subprocess.run(
        [sys.executable, "-c", PLACEHOLDER_SCRIPT],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[0] == "ok" and result.stdout.split()[-1] == "tensorflow"
