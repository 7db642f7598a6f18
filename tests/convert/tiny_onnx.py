"""A tiny ONNX classifier built in code, for the quantization tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 8


def tiny_onnx(path: Path, qdq: bool = False) -> Path:
    """NHWC image -> Transpose -> Conv -> Relu -> GlobalAveragePool -> Flatten -> MatMul + Add -> Softmax,
    the shape of what tf2onnx writes for a classifier, with seeded weights. With QDQ, the image passes
    a QuantizeLinear/DequantizeLinear pair first, which onnxruntime's quantizer warns about."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = {
        "conv_w": rng.normal(0, 0.3, (16, 3, 3, 3)).astype(np.float32),
        "conv_b": rng.normal(0, 0.1, (16,)).astype(np.float32),
        "dense_w": rng.normal(0, 0.3, (16, 4)).astype(np.float32),
        "dense_b": rng.normal(0, 0.1, (4,)).astype(np.float32),
    }
    first = "image"
    nodes = []
    if qdq:
        weights["q_scale"], weights["q_zero"] = np.array(1 / 255, np.float32), np.array(0, np.uint8)
        nodes += [
            helper.make_node("QuantizeLinear", ["image", "q_scale", "q_zero"], ["q"], name="q"),
            helper.make_node("DequantizeLinear", ["q", "q_scale", "q_zero"], ["dq"], name="dq"),
        ]
        first = "dq"
    nodes += [
        helper.make_node("Transpose", [first], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Conv", ["nchw", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "dense_w"], ["dense"], name="dense"),
        helper.make_node("Add", ["dense", "dense_b"], ["logits"], name="bias"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
