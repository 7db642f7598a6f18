"""The ONNX Runtime plugin: loading, running, settings it reports, and load failures."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from edgekit.convert import FORMATS, ConversionRequest
from edgekit.errors import RuntimeLoadError, UsageError
from edgekit.fsutil import sha256_file
from edgekit.runtimes import RUNTIMES, load_session, runtime_for
from edgekit.runtimes.onnxruntime import load_onnx


def _images(n: int, seed: int) -> np.ndarray:
    from edgekit.train.shapes import generate_shapes

    images, _, _ = generate_shapes(n, size=32, noise=0.1, seed=seed)
    return images.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def fp32_artifact(tiny_reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("ort") / "onnx-fp32"
    return FORMATS.get("onnx").convert(ConversionRequest(tiny_reference, "onnx", "fp32", out))


def _copy(artifact, tmp_path):
    """A private copy of the artifact that a test may damage."""
    folder = tmp_path / "copy"
    shutil.copytree(artifact.folder, folder)
    return dataclasses.replace(artifact, path=folder / artifact.path.name)


def test_registered_for_onnx_with_alias(fp32_artifact):
    plugin = RUNTIMES.get("ort")
    assert plugin.name == "onnxruntime" and plugin.formats == ("onnx",)
    assert runtime_for(fp32_artifact) is plugin  # the onnx format's default runtime


def test_predict_loops_over_batch_and_matches_onnxruntime(fp32_artifact):
    import onnxruntime as ort

    x = _images(5, seed=3)
    session = load_session(fp32_artifact, threads=1)
    out = session.predict(x)
    direct = ort.InferenceSession(str(fp32_artifact.path), providers=["CPUExecutionProvider"])
    expected = np.concatenate([direct.run(None, {"image": x[i : i + 1]})[0] for i in range(5)])
    assert out.shape == (5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-5)  # softmax rows: the real output, not zeros
    assert session.predict(x[:0]).shape == (0, 3)


def test_prepare_and_invoke_run_one_sample(fp32_artifact):
    session = load_session(fp32_artifact, threads=1)
    x = _images(1, seed=4)
    prepared = session.prepare(x)
    assert list(prepared) == ["image"] and prepared["image"].dtype == np.float32
    raw = session.invoke(prepared)
    np.testing.assert_allclose(raw, session.predict(x), atol=1e-7)
    assert (session.input.name, session.output.name) == ("image", "probabilities")


def test_prepare_rejects_a_batch_with_a_clear_message(fp32_artifact):
    session = load_session(fp32_artifact, threads=1)
    with pytest.raises(UsageError, match=r"\[1, 32, 32, 3\].*\[2, 32, 32, 3\]"):
        session.prepare(_images(2, seed=5))


def test_info_reports_threads_provider_and_optimization(fp32_artifact):
    import onnxruntime as ort

    info = load_session(fp32_artifact, threads=2).info()
    assert info == {
        "runtime": "onnxruntime",
        "version": ort.__version__,
        "threads": 2,
        "inter_op_threads": 1,
        "execution_provider": "CPUExecutionProvider",
        "graph_optimization_level": "all",
    }


@pytest.mark.parametrize("level", ["disable", "basic", "extended", "layout", "all"])
def test_optimization_level_is_an_option_and_does_not_change_results(level, fp32_artifact):
    x = _images(3, seed=6)
    baseline = load_onnx(fp32_artifact, 1).predict(x)
    session = load_onnx(fp32_artifact, 1, optimization=level)
    assert session.info()["graph_optimization_level"] == level
    np.testing.assert_allclose(session.predict(x), baseline, atol=1e-5)


def test_unknown_optimization_level_lists_the_choices(fp32_artifact):
    with pytest.raises(UsageError, match="fastest") as err:
        load_onnx(fp32_artifact, 1, optimization="fastest")
    assert "extended" in str(err.value)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_threads_must_be_a_positive_integer(threads, fp32_artifact):
    with pytest.raises(UsageError, match="threads"):
        load_onnx(fp32_artifact, threads)


def test_corrupt_model_file_is_a_load_error(fp32_artifact, tmp_path):
    artifact = _copy(fp32_artifact, tmp_path)
    artifact.path.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    artifact = dataclasses.replace(artifact, sha256=sha256_file(artifact.path))  # reach the ONNX parser
    with pytest.raises(RuntimeLoadError, match="cannot load") as err:
        load_onnx(artifact, 1)
    assert str(artifact.path) in str(err.value)


def test_model_changed_since_conversion_is_a_load_error(fp32_artifact, tmp_path):
    artifact = _copy(fp32_artifact, tmp_path)
    artifact.path.write_bytes(artifact.path.read_bytes() + b"\0")
    with pytest.raises(RuntimeLoadError, match="sha256"):
        load_onnx(artifact, 1)


def test_missing_model_file_is_a_load_error(fp32_artifact, tmp_path):
    artifact = dataclasses.replace(fp32_artifact, path=tmp_path / "gone" / "model.onnx")
    with pytest.raises(RuntimeLoadError, match="does not exist"):
        load_onnx(artifact, 1)


def test_artifact_of_another_format_is_refused(fp32_artifact):
    with pytest.raises(RuntimeLoadError, match="tflite"):
        load_onnx(dataclasses.replace(fp32_artifact, format="tflite"), 1)


def test_closed_session_refuses_to_run(fp32_artifact):
    session = load_session(fp32_artifact, threads=1)
    prepared = session.prepare(_images(1, seed=7))
    session.close()
    with pytest.raises(RuntimeLoadError, match="closed"):
        session.invoke(prepared)


def test_saved_artifact_loads_back_and_runs(fp32_artifact, tmp_path):
    from edgekit.artifact import Artifact

    artifact = _copy(fp32_artifact, tmp_path)
    artifact.save()
    reloaded = Artifact.load(artifact.folder)
    assert load_session(reloaded, threads=1).predict(_images(2, seed=8)).shape == (2, 3)
