"""TFLite and TF.js conversions in one process share one load of the reference, with unchanged output."""

from __future__ import annotations

import json

from edgekit.convert import saved_model_memo
from edgekit.convert.base import ConversionRequest
from edgekit.convert.tfjs import convert_tfjs
from edgekit.convert.tflite import convert_tflite


def _tree(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "model.json"}


def test_tflite_then_tfjs_load_the_reference_once_and_tfjs_output_is_unchanged(
    tiny_reference, tmp_path, monkeypatch
):
    from tensorflow.python.saved_model import load

    from edgekit.convert._tfjs_imports import import_tfjs_converter

    # tensorflowjs loading the reference itself, as it does upstream
    converter = import_tfjs_converter()
    converter.convert_tf_saved_model(str(tiny_reference / "saved_model"), str(tmp_path / "upstream"))

    calls = []
    real_load = load.load
    monkeypatch.setattr(load, "load", lambda d, tags=None: calls.append(d) or real_load(d, tags))
    monkeypatch.setattr(saved_model_memo, "_loaded", {})
    convert_tflite(
        ConversionRequest(tiny_reference, "tflite", "fp32", tmp_path / "tflite", options={"analyze": False})
    )
    convert_tfjs(ConversionRequest(tiny_reference, "tfjs", "fp32", tmp_path / "tfjs"))
    convert_tfjs(ConversionRequest(tiny_reference, "tfjs", "fp16", tmp_path / "tfjs16"))
    assert len(calls) == 1
    assert converter._load_model.__name__ == "_load_model"  # tensorflowjs's own, restored

    ours, upstream = tmp_path / "tfjs", tmp_path / "upstream"
    assert _tree(ours) == _tree(upstream)  # the same weight shards
    mine, theirs = (json.loads((f / "model.json").read_text()) for f in (ours, upstream))
    assert mine["modelTopology"] == theirs["modelTopology"]
    assert mine["signature"] == theirs["signature"]
