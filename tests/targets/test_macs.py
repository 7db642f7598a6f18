"""MAC counts, bytes and peak memory of tiny graphs against values computed by hand."""

from __future__ import annotations

import pytest

from edgekit.errors import UsageError
from edgekit.targets import analyze

# Hand-computed: output elements x MACs per output element.
EXPECTED = {
    "conv": 16 * 16 * 8 * (3 * 3 * 3),  # 55296
    "depthwise": 7 * 7 * 16 * (3 * 3),  # (16-3)//2+1 = 7; 16 channels (8 x multiplier 2): 7056
    "pointwise": 7 * 7 * 4 * 16,  # 3136
    "max_pool": 3 * 3 * 4 * (2 * 2),  # 7//2 = 3: 144
    "avg_pool": 3 * 3 * 4 * (3 * 3),  # same padding keeps 3x3: 324
    "mean": 3 * 3 * 4,  # one accumulate per input element: 36
    "dense": 5 * 4,  # 20
}


@pytest.mark.parametrize("dtype", ["fp32", "int8"])
def test_tflite_macs_match_hand_counts(tiny_tflite, dtype):
    a = analyze(tiny_tflite[dtype])
    by_type: dict[str, list[int]] = {}
    for op in a.ops:
        by_type.setdefault(op.type, []).append(op.macs)
    assert sorted(by_type["CONV_2D"]) == sorted([EXPECTED["conv"], EXPECTED["pointwise"]])
    assert by_type["DEPTHWISE_CONV_2D"] == [EXPECTED["depthwise"]]
    assert by_type["MAX_POOL_2D"] == [EXPECTED["max_pool"]]
    assert by_type["AVERAGE_POOL_2D"] == [EXPECTED["avg_pool"]]
    assert by_type["MEAN"] == [EXPECTED["mean"]]
    assert by_type["FULLY_CONNECTED"] == [EXPECTED["dense"]]
    assert a.total_macs == sum(EXPECTED.values())


def test_tflite_classes_dtypes_and_bytes(tiny_tflite):
    fp32, int8 = analyze(tiny_tflite["fp32"]), analyze(tiny_tflite["int8"])
    classes = {op.type: op.op_class for op in fp32.ops if op.macs}
    assert classes["DEPTHWISE_CONV_2D"] == "depthwise" and classes["FULLY_CONNECTED"] == "dense"
    conv_classes = sorted(op.op_class for op in fp32.ops if op.type == "CONV_2D")
    assert conv_classes == ["conv", "pointwise"]
    assert {op.dtype for op in int8.ops if op.macs} == {"int8"}
    assert {op.dtype for op in fp32.ops if op.macs} == {"float32"}
    # weights: conv 8*3*3*3 + 8 bias, depthwise 3*3*16 + 16, 1x1 16*4 + 4, dense 4*5 + 5 (fp32: 4 bytes
    # each), plus the MEAN op's two int32 axes
    weights = (216 + 8) + (144 + 16) + (64 + 4) + (20 + 5)
    assert fp32.weight_bytes == weights * 4 + 2 * 4
    assert int8.weight_bytes < fp32.weight_bytes / 2  # int8 weights, int32 biases
    conv = next(op for op in fp32.ops if op.type == "CONV_2D" and op.op_class == "conv")
    assert conv.activation_bytes == (16 * 16 * 3 + 16 * 16 * 8) * 4
    assert conv.weight_bytes == (216 + 8) * 4
    assert fp32.size_bytes == tiny_tflite["fp32"].stat().st_size


def test_tflite_peak_activation_is_largest_live_pair(tiny_tflite):
    a = analyze(tiny_tflite["fp32"])
    # Live pairs: conv in+out (16x16x3 + 16x16x8) = 2816 floats, then conv out + depthwise out
    # (16x16x8 + 7x7x16) = 2832 floats: the peak; everything after is smaller.
    assert a.peak_activation_bytes == (16 * 16 * 8 + 7 * 7 * 16) * 4
    assert analyze(tiny_tflite["int8"]).peak_activation_bytes < a.peak_activation_bytes


def test_onnx_macs_match_hand_counts(tiny_onnx):
    a = analyze(tiny_onnx)
    macs = {(op.type, op.op_class): op.macs for op in a.ops}
    assert macs[("Conv", "conv")] == EXPECTED["conv"]
    assert macs[("Conv", "depthwise")] == EXPECTED["depthwise"]
    assert macs[("Conv", "pointwise")] == EXPECTED["pointwise"]
    assert macs[("MaxPool", "pool")] == EXPECTED["max_pool"]
    assert macs[("AveragePool", "pool")] == EXPECTED["avg_pool"]
    assert macs[("GlobalAveragePool", "pool")] == EXPECTED["mean"]
    assert macs[("Gemm", "dense")] == EXPECTED["dense"]
    assert macs[("Flatten", "free")] == 0
    assert a.weight_bytes == (216 + 8 + 144 + 64 + 20 + 5) * 4
    assert a.peak_activation_bytes == (16 * 16 * 8 + 7 * 7 * 16) * 4
    assert a.inputs[0].shape == (1, 3, 16, 16)  # symbolic batch counts as 1


def test_analysis_round_trips_through_json(tiny_tflite):
    import json

    from edgekit.targets import GraphAnalysis

    a = analyze(tiny_tflite["int8"])
    b = GraphAnalysis.from_dict(json.loads(json.dumps(a.to_dict())))
    assert b.to_dict() == a.to_dict()


def test_analyze_rejects_unknown_and_corrupt_files(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(UsageError, match="TFL3"):
        analyze(bad)
    other = tmp_path / "model.h5"
    other.write_text("x")
    with pytest.raises(UsageError, match="unknown model file type"):
        analyze(other)
    with pytest.raises(UsageError, match="no such file"):
        analyze(tmp_path / "missing.onnx")
