"""A large model's TFLite conversion in stage processes writes the in-process conversion's bytes.

Here the size bound is zero and the test process (which has imported TensorFlow) is taken for a
worker that has not, so the tiny model converts in stages: a stage process stops at TensorFlow's
C++ `Convert`, a process of its own makes that call, and the stage process runs again to the end.
"""

from __future__ import annotations

import sys

import pytest

from edgekit.convert import tflite, tflite_stages
from edgekit.convert.base import ConversionRequest
from edgekit.errors import ConversionError


def _request(reference, quant, calibration, out) -> ConversionRequest:
    return ConversionRequest(reference, "tflite", quant, out, calibration, {"analyze": False})


@pytest.fixture
def in_stages(monkeypatch):
    """Large models convert in stages, and every call made in a process of its own is listed."""
    calls = []
    real = tflite_stages.call_to_file

    def spy(paths, function, args, result):
        calls.append(function)
        return real(paths, function, args, result)

    monkeypatch.setattr(tflite, "CONVERT_APART_BYTES", 0)
    monkeypatch.setattr(tflite, "converts_in_stages", lambda: True)
    monkeypatch.setattr(tflite_stages, "call_to_file", spy)
    return calls


# the calls each mode makes in a process of its own, with no stage process alive beside them (a model
# without recurrent operators needs no AddIntermediateTensors)
CALLS = {"fp32": ["Convert"], "int8": ["Convert", "ExperimentalMlirQuantizeModel"], "int16x8": ["Convert"]}


@pytest.mark.parametrize("quant", ["fp32", "int8", "int16x8"])
def test_stages_write_the_in_process_conversions_bytes(
    quant, in_stages, tiny_reference, tiny_calibration, tmp_path
):
    calibration = tiny_calibration[:8]
    staged = tflite.convert_tflite(_request(tiny_reference, quant, calibration, tmp_path / "staged"))
    assert in_stages == CALLS[quant]
    in_stages.clear()
    tflite.converts_in_stages = lambda: False  # restored by the fixture's monkeypatch
    here = tflite.convert_tflite(_request(tiny_reference, quant, calibration, tmp_path / "here"))
    assert in_stages == []
    assert staged.path.read_bytes() == here.path.read_bytes()
    assert staged.metadata == here.metadata and staged.inputs == here.inputs


def test_a_converter_error_reads_as_in_process(in_stages, flex_reference, tmp_path):
    # the Convert process fails on the Flex op; the stage process then makes the call itself
    with pytest.raises(ConversionError, match="ops outside the TFLite builtins") as raised:
        tflite.convert_tflite(_request(flex_reference, "fp32", None, tmp_path))
    assert in_stages == ["Convert"]
    assert "allow_flex" in (raised.value.hint or "")
    assert not (tmp_path / tflite.MODEL_FILE).exists()


def test_only_a_worker_without_tensorflow_converts_in_stages(monkeypatch):
    monkeypatch.delenv(tflite_stages.STAGE_ENV, raising=False)
    assert not tflite_stages.converts_in_stages()  # this test process has imported TensorFlow
    monkeypatch.delitem(sys.modules, "tensorflow")
    assert tflite_stages.converts_in_stages()
    monkeypatch.setenv(tflite_stages.STAGE_ENV, "/tmp/a-stage")
    assert not tflite_stages.converts_in_stages()  # a stage process converts itself


def test_a_stage_process_that_dies_fails_the_conversion_with_its_exit_code(
    in_stages, tiny_reference, tmp_path, monkeypatch
):
    monkeypatch.setattr(tflite_stages, "STAGE_MAIN", "import os; os._exit(9)")
    with pytest.raises(ConversionError, match="exit code 9"):
        tflite.convert_tflite(_request(tiny_reference, "fp32", None, tmp_path))
    assert not (tmp_path / tflite.MODEL_FILE).exists()


def test_a_conversion_that_keeps_suspending_stops_after_max_runs(
    in_stages, tiny_reference, tmp_path, monkeypatch
):
    monkeypatch.setattr(tflite_stages, "MAX_RUNS", 1)  # the first stage stops at Convert: never resumed
    with pytest.raises(ConversionError, match="did not finish in 1 stages"):
        tflite.convert_tflite(_request(tiny_reference, "fp32", None, tmp_path))
    assert not (tmp_path / tflite.MODEL_FILE).exists()
