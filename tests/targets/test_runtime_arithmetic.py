"""How a runtime computes: Winograd 3x3 kernels, wasm (no FMA, scalar without SIMD) and fp16 arithmetic in the latency model."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.targets import analyze
from edgekit.targets.calibration import fit
from edgekit.targets.calibration.features import load_features
from edgekit.targets.calibration.published import PACKAGE_CALIBRATION, load_device_table, load_published
from edgekit.targets.latency_model import COMPUTE_TERMS, graph_features, macs_per_cycle, winograd_macs

CONV = COMPUTE_TERMS.index("conv")


def test_only_3x3_stride_1_convolutions_are_winograd_work(conv_strides_tflite):
    ops = [op for op in analyze(conv_strides_tflite).ops if op.type == "CONV_2D"]
    by_shape = {(op.weights[0].shape[1:3], op.outputs[0].shape[1]): op for op in ops}
    s1, s2, pw = by_shape[((3, 3), 16)], by_shape[((3, 3), 8)], by_shape[((1, 1), 8)]
    assert winograd_macs(s1) == s1.macs == 16 * 16 * 8 * (3 * 3 * 3)
    assert winograd_macs(s2) == 0 and s2.macs == 8 * 8 * 8 * (3 * 3 * 8)
    assert winograd_macs(pw) == 0
    assert graph_features(analyze(conv_strides_tflite)).winograd == s1.macs


def test_onnx_3x3_stride_1_convolution_is_winograd_work_and_depthwise_is_not(tiny_onnx):
    a = analyze(tiny_onnx)
    eligible = {op.op_class: winograd_macs(op) for op in a.ops if op.type == "Conv"}
    assert eligible == {"conv": 16 * 16 * 8 * 27, "depthwise": 0, "pointwise": 0}


def test_winograd_reduction_lowers_only_the_eligible_conv_work(conv_strides_tflite):
    f = graph_features(analyze(conv_strides_tflite))
    reduced = f.with_winograd(2.25)
    assert reduced[CONV] == pytest.approx(f.compute[CONV] - f.winograd * (1 - 1 / 2.25))
    assert np.array_equal(np.delete(reduced, CONV), np.delete(f.compute, CONV))
    assert np.array_equal(f.with_winograd(1.0), f.compute)


@pytest.mark.parametrize(
    "dtype,dotprod,arithmetic,expected",
    [
        ("fp32", False, "simd", 8.0),
        ("fp32", False, "scalar", 2.0),  # one 32-bit lane of four
        ("fp32", False, "fp16", 16.0),  # twice the lanes
        ("int8", False, "simd", 16.0),
        ("int8", True, "simd", 32.0),
        ("fp32", False, "wasm-simd", 4.0),  # no fused multiply-add: a multiply and an add per MAC
        ("fp32", False, "wasm-scalar", 1.0),  # one lane, and no FMA
    ],
)
def test_peak_follows_the_arithmetic_the_runtime_uses(dtype, dotprod, arithmetic, expected):
    assert macs_per_cycle(8.0, dotprod, dtype, arithmetic, simd_bits=128) == expected


def test_published_rows_say_how_their_runtime_computed():
    rows = load_published().rows
    assert {r.arithmetic for r in rows if r.family == "tfjs-wasm"} == {"wasm-scalar"}
    assert {r.arithmetic for r in rows if r.family == "tfjs-wasm-simd"} == {"wasm-simd"}
    # RPi 5 ncnn fp32 rows the source notes as fp16 arithmetic; its int8 rows are not
    assert {(r.dtype, r.arithmetic) for r in rows if r.device == "rpi5"} == {
        ("fp32", "fp16"),
        ("int8", "simd"),
    }
    assert {r.arithmetic for r in rows if r.family in ("tflite", "xnnpack")} == {"simd"}


def test_design_applies_winograd_to_its_runtime_family_only():
    rows = load_published().rows
    specs, table = load_device_table(PACKAGE_CALIBRATION)
    features = load_features()
    plain = fit.make_design(rows, features, specs)
    wino = fit.make_design(rows, features, specs, table["winograd"])
    for i, r in enumerate(plain.rows):
        w = features[(r.model, r.dtype)].winograd
        if r.family == "ncnn" and w > 0:
            assert wino.compute[i, CONV] == pytest.approx(plain.compute[i, CONV] - w * (1 - 1 / 2.25))
        else:
            assert np.array_equal(wino.compute[i], plain.compute[i])
    assert any(r.family == "ncnn" and features[(r.model, r.dtype)].winograd > 0 for r in plain.rows)


def test_unknown_arithmetic_in_devices_yaml_names_the_file_and_field(tmp_path):
    import shutil

    from edgekit.errors import UsageError

    shutil.copy(PACKAGE_CALIBRATION / "published_latency.csv", tmp_path)
    text = (PACKAGE_CALIBRATION / "devices.yaml").read_text()
    (tmp_path / "devices.yaml").write_text(text.replace("tfjs-wasm: wasm-scalar", "tfjs-wasm: scalr"))
    with pytest.raises(UsageError, match=r"devices.yaml: arithmetic: 'scalr'"):
        load_published(tmp_path)


def test_estimates_use_the_arithmetic_their_runtime_family_was_fitted_with():
    from edgekit.targets.fitted import load_fitted, runtime_arithmetic

    fitted = load_fitted()
    assert fitted["estimate_families"]["tfjs-browser"] == "tfjs-wasm-simd"
    assert runtime_arithmetic(fitted, "tfjs-browser") == "wasm-simd"
    assert runtime_arithmetic(fitted, "litert") == "simd"
