"""The estimator: monotone in work, honest where it has nothing fitted, memory and fit verdicts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgekit.targets import estimate, resolve_target
from edgekit.targets.profile import builtin_targets

from .synthetic import graph, mobile_like

CALIBRATED = [e.name for e in builtin_targets() if e.value.calibration.device]
CASES = [(t, q) for t in CALIBRATED for q in ("fp32", "int8") if not (t == "browser" and q == "int8")]


def _dtype(q: str) -> str:
    return "int8" if q == "int8" else "float32"


def _est(g, target: str, quant: str, **kw):
    """The browser runs TF.js: its artifacts are estimated from the same graph with runtime tfjs-browser."""
    if target == "browser":
        kw.setdefault("runtime", "tfjs-browser")
    return estimate(g, resolve_target(target), quant=quant, **kw)


@pytest.mark.parametrize("target, quant", CASES)
def test_more_macs_never_estimate_faster(target, quant):
    base = mobile_like(dtype=_dtype(quant))
    t0 = _est(base, target, quant).latency_ms
    assert t0 is not None and t0 > 0
    for i, op in enumerate(base.ops):
        if not op.macs:
            continue
        heavier = mobile_like(dtype=_dtype(quant))
        heavier.ops[i].macs = op.macs * 3
        assert _est(heavier, target, quant).latency_ms >= t0, f"op {i} ({op.op_class})"
    for small, big in itertools.pairwise([0.25, 0.5, 1.0, 2.0, 4.0]):
        a = _est(mobile_like(small, _dtype(quant)), target, quant).latency_ms
        b = _est(mobile_like(big, _dtype(quant)), target, quant).latency_ms
        assert b > a


@pytest.mark.parametrize("target, quant", CASES)
def test_more_threads_never_estimate_slower_and_band_is_ordered(target, quant):
    profile = resolve_target(target)
    g = mobile_like(dtype=_dtype(quant))
    times = [_est(g, target, quant, threads=n).latency_ms for n in range(1, profile.hardware.cores + 1)]
    assert all(b <= a for a, b in itertools.pairwise(times))
    e = _est(g, target, quant)
    assert 0 < e.low_ms < e.high_ms
    assert e.basis and "held-out" in e.basis
    assert abs(sum(e.per_op_ms) - e.latency_ms) < 1e-3 * e.latency_ms + 1e-3


def test_threads_beyond_the_cores_are_capped_with_a_warning():
    e = estimate(mobile_like(), resolve_target("android-mid"), quant="fp32", threads=8)
    assert e.threads == 2 and any("8 threads requested" in w for w in e.warnings)


def test_faster_device_estimates_faster():
    g = mobile_like()
    t = {
        n: estimate(g, resolve_target(n), quant="fp32").latency_ms
        for n in ("rpi-zero2w", "rpi4", "rpi5", "android-high")
    }
    assert t["rpi-zero2w"] > t["rpi4"] > t["rpi5"]
    assert t["android-high"] < t["rpi4"]


@pytest.mark.parametrize(
    "target, quant, why",
    [
        ("host", "fp32", "no published results for host"),
        ("mcu-m7", "int8", "no published results for mcu-m7"),
        ("rpi4", "dynamic-int8", "no published results for quant mode dynamic-int8"),
        ("rpi4", "int16x8", "no published results for quant mode int16x8"),
        ("browser", "int8", "no published tfjs-browser int8 results"),
    ],
)
def test_no_fitted_factors_means_no_number_and_a_warning(target, quant, why):
    g = mobile_like(dtype=_dtype(quant))
    e = _est(g, target, quant)
    assert e.latency_ms is None and e.low_ms is None and e.high_ms is None
    assert any(why in w for w in e.warnings), e.warnings
    assert e.peak_ram_bytes > 0  # memory is still estimated


def test_tflite_graph_on_the_browser_needs_the_tfjs_runtime_named():
    g = mobile_like()
    e = estimate(g, resolve_target("browser"), quant="fp32")
    assert e.latency_ms is None and any("no runtime for tflite" in w for w in e.warnings)
    e = _est(g, "browser", "uint8")  # TF.js uint8 weights are expanded to float32 when loaded
    assert e.latency_ms is not None and any(
        "TF.js estimate made from the tflite graph" in w for w in e.warnings
    )


def test_onnx_artifacts_get_memory_but_no_uncalibrated_latency():
    g = graph([("conv", 10_000_000, 100_000, 1000, "Conv")], fmt="onnx")
    e = estimate(g, resolve_target("rpi4"), quant="fp32")
    assert e.runtime == "onnxruntime" and e.latency_ms is None
    assert any("no published onnxruntime fp32 results" in w for w in e.warnings)


def test_fp16_weights_run_and_are_held_as_fp32():
    g = mobile_like()
    fp32 = estimate(g, resolve_target("android-high"), quant="fp32")
    fp16 = estimate(g, resolve_target("android-high"), quant="fp16")
    assert fp16.latency_ms == fp32.latency_ms
    assert (
        fp16.memory["components"]["packed_weight_bytes"]
        == 2 * fp32.memory["components"]["packed_weight_bytes"]
    )


def test_ram_verdict_on_linux_targets():
    small = mobile_like(dtype="int8")
    assert estimate(small, resolve_target("rpi-zero2w"), quant="int8").fits
    huge = graph([("dense", 10**9, 1000, 200_000_000)])  # 800 MB of fp32 weights
    e = estimate(huge, resolve_target("rpi-zero2w"), quant="fp32")
    assert not e.fits and any("does not fit" in w and "RAM" in w for w in e.warnings)
    comp = e.memory["components"]
    assert e.peak_ram_bytes == comp["model_bytes"] + comp["packed_weight_bytes"] + comp["activation_bytes"]


def test_flash_and_arena_verdicts_on_the_microcontroller():
    mcu = resolve_target("mcu-m7")
    tiny = graph(
        [("conv", 200_000, 20_000, 3000), ("depthwise", 50_000, 20_000, 300), ("dense", 10_000, 10, 10_000)],
        dtype="int8",
    )
    e = estimate(tiny, mcu, quant="int8")
    assert (
        e.fits
        and e.flash_bytes == tiny.size_bytes
        and e.peak_ram_bytes == e.memory["components"]["arena_bytes"] >= tiny.peak_activation_bytes
    )
    big_weights = graph([("dense", 3_000_000, 10, 3_000_000)], dtype="int8")  # 3 MB of weights > 2 MB flash
    e = estimate(big_weights, mcu, quant="int8")
    assert not e.fits and any("flash" in w for w in e.warnings)
    big_arena = graph([("conv", 1000, 400_000, 100)], dtype="int8")  # 800 KB live > 512 KB arena
    assert not estimate(big_arena, mcu, quant="int8").fits


def test_ops_the_runtime_lacks_are_named():
    g = graph(
        [
            ("conv", 1000, 100, 10),
            ("other", 0, 100, 0, "BATCH_MATMUL"),
            ("other", 0, 100, 0, "CUSTOM:FlexRoll"),
        ],
        dtype="int8",
    )
    e = estimate(g, resolve_target("mcu-m7"), quant="int8")
    assert any("lacks ops" in w and "BATCH_MATMUL" in w for w in e.warnings)
    e = estimate(g, resolve_target("rpi4"), quant="int8")
    assert any("lacks ops: CUSTOM:FlexRoll" in w for w in e.warnings)
    f = estimate(mobile_like(), resolve_target("mcu-m7"), quant="int8")
    assert any("reference C kernels" in w for w in f.warnings)


def test_estimate_to_dict_is_json_ready():
    import json

    e = estimate(mobile_like(), resolve_target("rpi4"), quant="fp32")
    d = json.loads(json.dumps(e.to_dict()))
    assert d["target"] == "rpi4" and d["latency_ms"] == e.latency_ms and d["fits"] is True
    assert np.isfinite(d["low_ms"]) and d["memory"]["usable_ram_bytes"] == 4096 * 2**20


def test_32_bit_os_applies_the_fitted_32_bit_factor():
    from edgekit.targets.fitted import load_fitted

    rpi4 = resolve_target("rpi4")
    rpi4_32 = rpi4.model_copy(update={"hardware": rpi4.hardware.model_copy(update={"os_bits": 32})})
    g = mobile_like()
    ratio = estimate(g, rpi4_32, quant="fp32").latency_ms / estimate(g, rpi4, quant="fp32").latency_ms
    assert ratio == pytest.approx(load_fitted()["factors"]["os32"]["fp32"], rel=1e-3)


def test_browser_estimate_computes_at_the_wasm_peak_it_was_fitted_at(monkeypatch):
    """TF.js's family factor was fitted with wasm's half peak (no FMA): estimating it at the native
    peak would make compute twice as fast and leave memory and per-op time as they are."""
    from edgekit.targets import estimator
    from edgekit.targets.fitted import load_fitted

    g = mobile_like()
    wasm = _est(g, "browser", "fp32").latency_ms
    native = {**load_fitted(), "estimate_arithmetic": {"tfjs-browser": "simd"}}
    monkeypatch.setattr(estimator, "load_fitted", lambda: native)
    assert 1.0 < wasm / _est(g, "browser", "fp32").latency_ms < 2.0
