"""User calibration: synthetic measurements from known factors are fitted back to those factors."""

from __future__ import annotations

import json

import pytest

from edgekit.errors import UsageError
from edgekit.targets import estimate, load_profile_file, resolve_target
from edgekit.targets.calibration.bench_input import parse_bench_json
from edgekit.targets.calibration.calibrate import calibrate, write_profile
from edgekit.targets.profile import Calibration

from .synthetic import graph

TRUTH = {
    "runtime": "litert",
    "base": "rpi4",
    "measurements": 0,
    "scale": {"fp32": 2.0, "int8": 1.3},
    "class_multiplier": {"conv": 0.7, "depthwise": 1.6},  # pointwise (the largest class) is the reference
    "parallel": {"fp32": 0.55},
    "held_out": None,
}


def _graphs(dtype: str) -> list:
    """Six graphs whose conv / depthwise / pointwise mixes differ enough to tell the classes apart."""
    mixes = [(1, 1, 4), (3, 1, 4), (1, 3, 4), (2, 2, 3), (4, 1, 2), (1, 4, 2)]
    out = []
    for i, (c, d, p) in enumerate(mixes):
        rows = [
            ("conv", c * 8_000_000, 200_000, 2000),
            ("depthwise", d * 1_500_000, 200_000, 500),
            ("pointwise", p * 20_000_000, 200_000, 40_000),
            ("elementwise", 0, 100_000, 0),
            ("dense", 500_000, 1000, 500_000),
        ]
        out.append(graph(rows, dtype=dtype, name=f"mix{i}-{dtype}"))
    return out


def _truth_profile():
    return resolve_target("rpi4").model_copy(
        update={"name": "truth", "calibration": Calibration(fitted=TRUTH)}
    )


def _measurements(tmp_path) -> list:
    truth = _truth_profile()
    results = []
    for g in _graphs("float32"):
        for threads in (1, 2, 4):
            ms = estimate(g, truth, quant="fp32", threads=threads).latency_ms
            results.append({"artifact": g.to_dict(), "p50_ms": ms, "threads": threads, "quant": "fp32"})
    for g in _graphs("int8")[:3]:
        ms = estimate(g, truth, quant="int8", threads=4).latency_ms
        results.append({"artifact": g.to_dict(), "latency_ms": ms, "threads": 4})  # quant from the graph
    results.append({"status": "failed", "artifact": "x.tflite", "p50_ms": None, "threads": 4})
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"results": results}))
    return parse_bench_json(path)


def test_calibrate_recovers_the_factors_that_generated_the_measurements(tmp_path):
    ms = _measurements(tmp_path)
    assert len(ms) == 21 and {m.dtype for m in ms} == {"fp32", "int8"}
    result = calibrate(ms, resolve_target("rpi4"), "my-pi")
    f = result.factors
    assert f["scale"]["fp32"] == pytest.approx(2.0, rel=0.02)
    assert f["scale"]["int8"] == pytest.approx(1.3, rel=0.02)
    assert f["class_multiplier"]["conv"] == pytest.approx(0.7, rel=0.03)
    assert f["class_multiplier"]["depthwise"] == pytest.approx(1.6, rel=0.03)
    assert set(f["class_multiplier"]) == {"conv", "depthwise"}
    assert f["parallel"]["fp32"] == pytest.approx(0.55, abs=0.02)
    assert "int8" not in f["parallel"]  # one thread count only: not identifiable, published value kept
    assert f["held_out"]["n"] == 21 and f["held_out"]["median_abs_pct"] < 3.0


def test_calibrated_profile_round_trips_and_estimates_like_the_truth(tmp_path):
    result = calibrate(_measurements(tmp_path), resolve_target("rpi4"), "my-pi")
    path = write_profile(result.profile, tmp_path / "my-pi.yaml")
    profile = load_profile_file(path)
    assert profile.name == "my-pi" and profile.hardware == resolve_target("rpi4").hardware
    probe = graph(
        [
            ("conv", 30_000_000, 300_000, 3000),
            ("pointwise", 60_000_000, 300_000, 50_000),
            ("depthwise", 4_000_000, 300_000, 900),
        ]
    )
    mine = estimate(probe, profile, quant="fp32", threads=3)
    truth = estimate(probe, _truth_profile(), quant="fp32", threads=3)
    assert mine.latency_ms == pytest.approx(truth.latency_ms, rel=0.03)
    assert "your measurements" in mine.basis
    assert estimate(probe, profile, quant="fp32", runtime="onnxruntime").latency_ms is None


def test_too_few_artifacts_give_no_held_out_figure(tmp_path):
    ms = [
        m
        for m in _measurements(tmp_path)
        if m.artifact.endswith(("mix0-float32.tflite", "mix1-float32.tflite"))
    ]
    result = calibrate(ms, resolve_target("rpi4"), "two")
    assert result.factors["held_out"] is None and all(h is None for h in result.held_out_ms)


def _bench(tmp_path, results) -> object:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(results))
    return path


def test_bench_json_errors_name_the_file_and_field(tmp_path):
    g = graph([("conv", 1000, 100, 10)]).to_dict()
    with pytest.raises(UsageError, match=r"b\.json: results\[0\]: threads"):
        parse_bench_json(_bench(tmp_path, [{"artifact": g, "p50_ms": 3.0}]))
    with pytest.raises(UsageError, match=r"results\[1\]: p50_ms"):
        parse_bench_json(
            _bench(tmp_path, [{"artifact": g, "p50_ms": 3.0, "threads": 1}, {"artifact": g, "threads": 1}])
        )
    with pytest.raises(UsageError, match=r"artifact: missing"):
        parse_bench_json(_bench(tmp_path, [{"p50_ms": 3.0, "threads": 1}]))
    with pytest.raises(UsageError, match="expected a list of results"):
        parse_bench_json(_bench(tmp_path, "just a string"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match="broken.json: not valid JSON"):
        parse_bench_json(broken)
    with pytest.raises(UsageError, match="not found"):
        parse_bench_json(tmp_path / "nope.json")


def test_bench_json_reads_edgekit_bench_results_with_relative_paths(tiny_onnx, tmp_path):
    import shutil

    shutil.copy(tiny_onnx, tmp_path / "model.onnx")
    path = _bench(
        tmp_path,
        {
            "schema_version": 1,
            "results": [
                {
                    "status": "ok",
                    "artifact": {"path": "model.onnx", "format": "onnx", "quant": "fp32"},
                    "runtime": {"runtime": "onnxruntime", "threads": 2},
                    "protocol": {"threads": 2},
                    "p50_ms": 1.25,
                }
            ],
        },
    )
    (m,) = parse_bench_json(path)
    assert (m.runtime, m.threads, m.quant, m.dtype, m.latency_ms) == ("onnxruntime", 2, "fp32", "fp32", 1.25)
    assert m.artifact == str(tmp_path / "model.onnx")
    # Measurements of any runtime calibrate that runtime: ONNX Runtime has no published factors,
    # but a profile fitted on the user's own ONNX Runtime results estimates it.
    result = calibrate([m], resolve_target("rpi4"), "ort")
    from edgekit.targets import analyze

    onnx_graph = analyze(tmp_path / "model.onnx")
    e = estimate(onnx_graph, result.profile, quant="fp32", threads=2)
    assert e.runtime == "onnxruntime" and e.latency_ms == pytest.approx(1.25, rel=1e-3)


@pytest.mark.parametrize("validity", ["INVALID", "UNTRUSTED"])
def test_bench_json_skips_results_that_cannot_be_trusted(tiny_onnx, tmp_path, validity):
    import shutil

    shutil.copy(tiny_onnx, tmp_path / "model.onnx")
    result = {
        "status": "ok",
        "artifact": {"path": "model.onnx", "format": "onnx", "quant": "fp32"},
        "runtime": {"runtime": "onnxruntime", "threads": 2},
        "protocol": {"threads": 2},
        "p50_ms": 1.25,
    }
    path = _bench(
        tmp_path, {"schema_version": 1, "results": [result, {**result, "validity": validity, "p50_ms": 9.0}]}
    )
    assert [m.latency_ms for m in parse_bench_json(path)] == [1.25]


def test_calibrate_refuses_mixed_runtimes(tmp_path):
    ms = _measurements(tmp_path)
    ms[0].runtime = "onnxruntime"
    with pytest.raises(UsageError, match="several runtimes"):
        calibrate(ms, resolve_target("rpi4"), "mixed")
