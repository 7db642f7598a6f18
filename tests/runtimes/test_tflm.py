"""TFLite Micro runtime: int8 artifacts run in TFLM's interpreter with the arena edgekit predicts,
agree with LiteRT, and fail clearly with half that arena or with ops TFLM lacks."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from demo_settings import tiny_demo
from tiny_models import tiny_images

pytest.importorskip("tflite_micro", reason="the `micro` extra (tflite-micro) is not installed")

from edgekit.artifact import Artifact
from edgekit.cli import main
from edgekit.convert import FORMATS
from edgekit.convert.base import ConversionRequest
from edgekit.errors import RuntimeLoadError
from edgekit.runtimes import RUNTIMES, load_session
from edgekit.runtimes.tflm import (
    ArenaTooSmallError,
    TFLMSession,
    micro_parity,
    needed_arena_bytes,
)
from edgekit.targets import analyze, estimate, resolve_target


@pytest.fixture(scope="module")
def int8_artifact(tiny_reference, tiny_calibration, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8")
    art = FORMATS.get("tflite").convert(
        ConversionRequest(tiny_reference, "tflite", "int8", out, tiny_calibration, {})
    )
    art.save()
    return art


def test_registered_with_its_install_part():
    plugin = RUNTIMES.get("tflm")
    assert plugin.formats == ("tflite",) and plugin.requires == ("tflite_micro",)


def test_predicted_arena_runs_and_agrees_with_litert(int8_artifact):
    x = tiny_images(16, seed=3)
    session = load_session(int8_artifact, threads=2, runtime="tflm")
    predicted = estimate(analyze(int8_artifact.path), resolve_target("mcu-m7"), quant="int8").memory[
        "components"
    ]["arena_bytes"]
    assert session.arena_bytes == predicted and session.info()["threads"] == 1
    out = session.predict(x)
    assert out.shape == (16, 3) and out.dtype == np.float32
    row = micro_parity(int8_artifact, x, threads=2)
    assert row["verdict"] == "pass" and row["top1_agreement"] == 1.0 and row["arena_bytes"] == predicted, row
    # The prediction is enough, and not wasteful: less than twice what TFLM really needs.
    needed = needed_arena_bytes(int8_artifact.path.read_bytes())
    assert needed <= predicted < 2 * needed


def test_half_the_predicted_arena_fails_naming_the_size_needed(int8_artifact):
    predicted = TFLMSession(int8_artifact).arena_bytes
    with pytest.raises(ArenaTooSmallError) as info:
        TFLMSession(int8_artifact, arena_bytes=predicted // 2)
    needed = info.value.needed
    assert (
        abs(needed - needed_arena_bytes(int8_artifact.path.read_bytes())) <= 16
    )  # the arena's start alignment
    assert (
        f"{predicted // 2} bytes is too small" in info.value.message
        and f"needs {needed} bytes" in info.value.message
    )
    assert TFLMSession(int8_artifact, arena_bytes=needed).predict(tiny_images(1)).shape == (1, 3)


def test_ops_tflm_lacks_are_named_before_loading(tmp_path):
    import tensorflow as tf

    from edgekit.convert.tflite import describe_tflite

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def model(x):
        return tf.math.reduce_prod(x, axis=1, keepdims=True)  # REDUCE_PROD: not in TFLM's op resolver

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    path = tmp_path / "model.tflite"
    path.write_bytes(converter.convert())
    inputs, outputs, _ = describe_tflite(path)
    import hashlib

    art = Artifact(
        "tflite",
        "fp32",
        path,
        hashlib.sha256(path.read_bytes()).hexdigest(),
        path.stat().st_size,
        inputs,
        outputs,
    )
    with pytest.raises(RuntimeLoadError, match="TFLite Micro lacks op\\(s\\) REDUCE_PROD"):
        TFLMSession(art)


def _row(artifact):
    from edgekit.matrix import Row
    from edgekit.results import ParityResult

    parity = ParityResult(8, 1.0, 0.0, 0.0, 1.0, None, None, "pass", [])
    return Row("tflite", "int8", "ok", artifact=artifact, parity=parity)


def test_micro_parity_row_and_a_row_failing_on_ops_tflm_lacks(int8_artifact, monkeypatch):
    from edgekit.runtimes.tflm import add_micro_parity
    from edgekit.setup.extras import EXTRAS
    from edgekit.targets import opsupport

    x = tiny_images(8, seed=5)
    row = _row(int8_artifact)
    add_micro_parity(row, x, threads=1)
    assert row.parity.micro["verdict"] == "pass" and row.parity.verdict == "pass"
    assert row.notes and row.notes[0].startswith("TFLite Micro (")
    # An op outside TFLM's resolver list fails the row at conversion time, naming the op.
    monkeypatch.setattr(opsupport, "TFLITE_MICRO_OPS", opsupport.TFLITE_MICRO_OPS - {"SOFTMAX"})
    with pytest.raises(RuntimeLoadError, match="lacks op\\(s\\) SOFTMAX"):
        add_micro_parity(_row(int8_artifact), x, threads=1)
    # Without the `micro` extra the row says so instead of failing.
    monkeypatch.setitem(
        EXTRAS, "micro", dataclasses.replace(EXTRAS["micro"], modules=("edgekit_no_such_module",))
    )
    row = _row(int8_artifact)
    add_micro_parity(row, x, threads=1)
    assert row.parity.micro is None and "micro" not in row.parity.to_dict()
    assert "not run in TFLite Micro" in row.notes[0]


TINY = tiny_demo(epochs=2)


@pytest.fixture(scope="module")
def mcu_run(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("EDGEKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("out")
    rc = main(["convert", "--target", "mcu-m7", "--out", str(out), *TINY])
    return rc, out / "demo" / "mcu-m7"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_demo_int8_artifact_has_a_micro_parity_row_with_the_predicted_arena(mcu_run):
    rc, run = mcu_run
    assert rc == 0
    row = json.loads((run / "report.json").read_text())["artifacts"][0]
    assert (row["format"], row["quant"], row["status"]) == ("tflite", "int8", "ok")
    micro, arena = row["parity"]["micro"], row["estimate"]["memory"]["components"]["arena_bytes"]
    assert micro["runtime"] == "tflm" and micro["against"] == "litert" and micro["verdict"] == "pass", micro
    assert micro["arena_bytes"] == arena and any("TFLite Micro" in n for n in row["notes"])
    art = Artifact.load(run / "artifacts" / "tflite-int8")
    with pytest.raises(ArenaTooSmallError, match="TFLite Micro needs"):
        TFLMSession(art, arena_bytes=arena // 2)
