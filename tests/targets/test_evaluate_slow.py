"""`targets evaluate` end to end on a few small calibration models (converts with TensorFlow: slow)."""

from __future__ import annotations

import pytest

from edgekit.targets.calibration.evaluate import evaluate

pytestmark = pytest.mark.slow


def test_evaluate_converts_checks_macs_and_reports_held_out_error(tmp_path):
    full = tmp_path / "model_features.json"
    full.write_text('{"the full set": "from an earlier run on all models"}')
    ev = evaluate(["mobilenet_v1_0.25_224", "mobilenet_v3_*"], tmp_path)
    assert ev.features_path == tmp_path / "model_features-selected.json"
    assert (
        full.read_text() == '{"the full set": "from an earlier run on all models"}'
    )  # a subset never replaces it
    report = ev.to_dict()
    assert not report["failures"]
    checks = {c["model"]: c for c in report["mac_checks"]}
    assert abs(checks["mobilenet_v1_0.25_224"]["diff_pct"]) < 1.0
    assert abs(checks["mobilenet_v3_large_224"]["diff_pct"]) < 1.0
    assert sorted(p.name for p in tmp_path.glob("*.tflite")) == [
        f"{m}-{q}.tflite"
        for m in ("mobilenet_v1_0.25_224", "mobilenet_v3_large_224", "mobilenet_v3_small_224")
        for q in ("fp32", "int8")
    ]
    pooled = report["held_out"]["pooled"]
    assert pooled["loso"]["n"] == pooled["lomo"]["n"] == report["rows"]["used"] > 30
    assert 0 < pooled["lomo"]["median_abs_pct"] < 100
    assert "rpi4" in report["profiles"]["rpi4b"]
