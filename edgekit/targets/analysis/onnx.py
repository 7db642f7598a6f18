"""Read an .onnx model into per-op rows: type, shapes, dtypes, MACs, weight and activation bytes.

Shapes come from ONNX shape inference; symbolic dimensions (batch) count as 1. Tensors computed
only from initializers (a DequantizeLinear of int8 weights, a Constant) are constants: their ops
cost nothing at run time and their bytes count as weights. In QDQ-quantized models an op whose
activation input comes out of a DequantizeLinear is reported with the quantized dtype, because
ONNX Runtime fuses the Q/DQ pair into an integer kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError
from edgekit.targets import macs
from edgekit.targets.analysis.graph import (
    DAMAGED,
    GraphAnalysis,
    OpInfo,
    TensorInfo,
    check_plausible,
    peak_live_bytes,
)

CONV = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}  # op -> index of the weight input
MATMUL = {"Gemm": 1, "MatMul": 1, "MatMulInteger": 1, "QLinearMatMul": 3}
POOL = {"MaxPool", "AveragePool", "LpPool", "QLinearAveragePool"}
REDUCE = {
    "GlobalAveragePool",
    "GlobalMaxPool",
    "QLinearGlobalAveragePool",
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL2",
}
ELEMENTWISE = {
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Clip",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Elu",
    "Selu",
    "Gelu",
    "Exp",
    "Log",
    "Sqrt",
    "Abs",
    "Neg",
    "Reciprocal",
    "Softmax",
    "LogSoftmax",
    "BatchNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "LRN",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "Cast",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Where",
    "Equal",
    "Less",
    "Greater",
    "Not",
    "And",
    "Or",
    "Erf",
    "QLinearAdd",
    "QLinearMul",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "Swish",
}
MOVEMENT = {
    "Concat",
    "QLinearConcat",
    "Pad",
    "Transpose",
    "Slice",
    "Split",
    "Gather",
    "GatherND",
    "Tile",
    "Expand",
    "Resize",
    "Upsample",
    "DepthToSpace",
    "SpaceToDepth",
    "ArgMax",
    "ArgMin",
    "TopK",
}
FREE = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Constant", "Dropout", "Size"}


@dataclass
class _Graph:
    infos: dict[str, TensorInfo]
    const: set[str]


def _tensor_info(name: str, type_proto: Any) -> TensorInfo:
    import onnx

    tt = type_proto.tensor_type
    dims = tuple(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in tt.shape.dim)
    try:
        np_dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        dtype, itemsize = np_dtype.name, np_dtype.itemsize
    except (KeyError, TypeError, ValueError):
        dtype, itemsize = f"onnx_type{tt.elem_type}", 4
    return TensorInfo(name, dims, dtype, macs.elements(dims) * itemsize)


def _load(path: Path) -> Any:
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    try:
        # Weights in an external data file (models over 2 GiB) are not loaded: shapes and types are
        # in the graph, and shape inference cannot serialize a model of 2 GiB or more in memory.
        model = onnx.load(str(path), load_external_data=False)
        for init in model.graph.initializer:
            if uses_external_data(init) and not (path.parent / ExternalDataInfo(init).location).is_file():
                raise OSError(f"its external data file {ExternalDataInfo(init).location!r} is missing")
    except Exception as exc:  # protobuf DecodeError, OSError: say which file
        raise UsageError(f"{path}: not a readable ONNX model: {exc}") from None
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # shape inference can fail on custom domains: analyse what is known
        return model


def _collect(graph: Any) -> _Graph:
    """Tensor infos from shape inference, initializers and graph I/O; constants propagated."""
    import onnx

    infos: dict[str, TensorInfo] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        infos[vi.name] = _tensor_info(vi.name, vi.type)
    const: set[str] = set()
    for init in graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:  # not loaded: described by shape and type
            np_dtype = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
            shape = tuple(int(d) for d in init.dims)
            infos[init.name] = TensorInfo(
                init.name, shape, np_dtype.name, math.prod(shape) * np_dtype.itemsize
            )
        else:
            arr = onnx.numpy_helper.to_array(init)
            infos[init.name] = TensorInfo(
                init.name, tuple(int(d) for d in arr.shape), arr.dtype.name, int(arr.nbytes)
            )
        const.add(init.name)
    for node in graph.node:
        ins = [i for i in node.input if i]
        if node.op_type == "Constant" or (ins and all(i in const for i in ins)):
            const.update(o for o in node.output if o)
            if node.op_type == "DequantizeLinear" and node.output[0] in infos and ins[0] in infos:
                old = infos[node.output[0]]  # dequantized weights occupy their stored (int8) bytes
                infos[node.output[0]] = TensorInfo(old.name, old.shape, old.dtype, infos[ins[0]].nbytes)
    return _Graph(infos, const)


def _attr(node: Any, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _op_macs(node: Any, g: _Graph, out: tuple[int, ...]) -> int:
    ins = [g.infos.get(i) for i in node.input]
    op = node.op_type
    if op in CONV and (weights := ins[CONV[op]]) is not None:  # weights [M, C/group, kh, kw]
        w = weights.shape
        return macs.conv_macs(out, w[2] if len(w) > 2 else 1, w[3] if len(w) > 3 else 1, w[1])
    first = ins[0] if ins else None
    if op in MATMUL and first is not None:
        a = first.shape
        k = a[-2] if op == "Gemm" and _attr(node, "transA", 0) else a[-1]
        return macs.dense_macs(out, k)
    if op in POOL:
        kernel = list(_attr(node, "kernel_shape", [1, 1])) + [1, 1]
        return macs.pool_macs(out, kernel[0], kernel[1])
    if op in REDUCE and first is not None:
        return macs.reduce_macs(first.shape)
    return 0


def _op_class(node: Any, g: _Graph) -> str:
    op = node.op_type
    ins = [i for i in node.input if i]
    if op == "Constant" or (ins and all(i in g.const for i in ins)):
        return "free"
    if op in CONV:
        w = g.infos.get(node.input[CONV[op]])
        group = int(_attr(node, "group", 1))
        if w is not None and group > 1 and w.shape[1] == 1:
            return "depthwise"
        return (
            "pointwise" if w is not None and group == 1 and tuple(w.shape[2:]) in ((1, 1), (1,)) else "conv"
        )
    if op in MATMUL:
        return "dense"
    for names, cls in (
        (POOL | REDUCE, "pool"),
        (ELEMENTWISE, "elementwise"),
        (MOVEMENT, "movement"),
        (FREE, "free"),
    ):
        if op in names:
            return cls
    return "other"


def _compute_dtype(acts: list[TensorInfo], producers: dict[str, Any], g: _Graph) -> str:
    if not acts:
        return "float32"
    src = producers.get(acts[0].name)
    if src is not None and src.op_type == "DequantizeLinear" and src.input[0] in g.infos:
        return g.infos[src.input[0]].dtype  # QDQ: runs as an integer kernel
    return acts[0].dtype


def _unknown(name: str) -> TensorInfo:
    return TensorInfo(name, (), "unknown", 0)


def analyze_onnx(path: Path) -> GraphAnalysis:
    model = _load(path)
    try:
        analysis = _read(path, model)
        check_plausible(analysis)
    except DAMAGED as exc:
        # protobuf accepts any field values: a damaged graph fails anywhere in the walk below.
        raise UsageError(
            f"{path}: a damaged ONNX model: {type(exc).__name__}: {str(exc)[:200]}",
            hint="convert it again; if it came from elsewhere, the file was cut short or altered",
        ) from None
    return analysis


def _read(path: Path, model: Any) -> GraphAnalysis:
    graph = model.graph
    g = _collect(graph)
    producers = {o: n for n in graph.node for o in n.output}
    ops, steps = [], []
    for i, node in enumerate(graph.node):
        names = [n for n in node.input if n]
        acts = [g.infos.get(n) or _unknown(n) for n in names if n not in g.const]
        weights = [g.infos[n] for n in names if n in g.const and n in g.infos]
        outs = [g.infos.get(n) or _unknown(n) for n in node.output if n]
        ops.append(
            OpInfo(
                index=i,
                type=node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}",
                op_class=_op_class(node, g),
                dtype=_compute_dtype(acts, producers, g),
                inputs=acts,
                outputs=outs,
                weights=weights,
                macs=int(_op_macs(node, g, outs[0].shape if outs else ())),
                weight_dtype=weights[0].dtype if weights else None,
            )
        )
        steps.append(
            ([n for n in names if n not in g.const], [n for n in node.output if n and n not in g.const])
        )
    ids = {name: k for k, name in enumerate(g.infos)}
    int_steps = [([ids[n] for n in a if n in ids], [ids[n] for n in b if n in ids]) for a, b in steps]
    init_names = {t.name for t in graph.initializer}
    real_inputs = [vi.name for vi in graph.input if vi.name not in init_names]
    return GraphAnalysis(
        format="onnx",
        path=path,
        size_bytes=path.stat().st_size,
        ops=ops,
        weight_bytes=sum(g.infos[n].nbytes for n in init_names),
        peak_activation_bytes=peak_live_bytes(
            int_steps,
            {ids[n]: t.nbytes for n, t in g.infos.items() if n not in g.const},
            [ids[n] for n in real_inputs if n in ids],
            [ids[vi.name] for vi in graph.output if vi.name in ids],
        ),
        inputs=[g.infos[n] for n in real_inputs if n in g.infos],
        outputs=[g.infos[vi.name] for vi in graph.output if vi.name in g.infos],
    )
