"""Read a .tflite flatbuffer into per-op rows: type, shapes, dtypes, MACs, weight and activation bytes.

Reads the flatbuffer with the schema module LiteRT ships (no interpreter, no TensorFlow import),
so it also works for models the local runtime cannot run (custom ops, TFLite Micro targets).
Only the main subgraph (0) is analysed: control-flow subgraphs are rare in vision models.
"""

from __future__ import annotations

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

_ITEMSIZE = {
    "float32": 4,
    "float16": 2,
    "int32": 4,
    "uint8": 1,
    "int64": 8,
    "bool": 1,
    "int16": 2,
    "complex64": 8,
    "int8": 1,
    "float64": 8,
    "complex128": 16,
    "uint64": 8,
    "uint32": 4,
    "uint16": 2,
    "int4": 0.5,
    "bfloat16": 2,
}

POOL = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}
REDUCE = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL"}
ELEMENTWISE = {
    "ADD",
    "SUB",
    "MUL",
    "DIV",
    "SQUARED_DIFFERENCE",
    "MAXIMUM",
    "MINIMUM",
    "POW",
    "ADD_N",
    "FLOOR_DIV",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RELU_0_TO_1",
    "LEAKY_RELU",
    "PRELU",
    "HARD_SWISH",
    "LOGISTIC",
    "TANH",
    "GELU",
    "ELU",
    "EXP",
    "LOG",
    "SQRT",
    "RSQRT",
    "ABS",
    "NEG",
    "SQUARE",
    "SIN",
    "COS",
    "SOFTMAX",
    "LOG_SOFTMAX",
    "L2_NORMALIZATION",
    "LOCAL_RESPONSE_NORMALIZATION",
    "QUANTIZE",
    "DEQUANTIZE",
    "CAST",
    "FLOOR",
    "CEIL",
    "ROUND",
    "SIGN",
    "SELECT",
    "SELECT_V2",
    "LESS",
    "GREATER",
    "EQUAL",
    "NOT_EQUAL",
    "LESS_EQUAL",
    "GREATER_EQUAL",
    "LOGICAL_AND",
    "LOGICAL_OR",
    "LOGICAL_NOT",
}
MOVEMENT = {
    "CONCATENATION",
    "PAD",
    "PADV2",
    "MIRROR_PAD",
    "TRANSPOSE",
    "STRIDED_SLICE",
    "SLICE",
    "SPLIT",
    "SPLIT_V",
    "GATHER",
    "GATHER_ND",
    "PACK",
    "UNPACK",
    "TILE",
    "BROADCAST_TO",
    "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR",
    "SPACE_TO_DEPTH",
    "DEPTH_TO_SPACE",
    "SPACE_TO_BATCH_ND",
    "BATCH_TO_SPACE_ND",
    "REVERSE_V2",
    "ARG_MAX",
    "ARG_MIN",
    "TOPK_V2",
}
FREE = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SHAPE"}  # views: XNNPACK and TFLM elide the copy


@dataclass
class _Tensor:
    info: TensorInfo
    const: bool
    buffer: int


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _enum_names(enum_cls: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _read_tensors(model: Any, sg: Any, schema: Any) -> list[_Tensor]:
    type_names = _enum_names(schema.TensorType)
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        dtype = type_names.get(t.Type(), f"type{t.Type()}").lower()
        buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        stored = 0 if buf is None else (buf.DataLength() or (buf.Size() if buf.Offset() > 1 else 0))
        nbytes = int(stored) if stored else int(macs.elements(shape) * _ITEMSIZE.get(dtype, 4))
        name = (t.Name() or b"").decode("utf-8", "replace")
        tensors.append(_Tensor(TensorInfo(name, shape, dtype, nbytes), const=bool(stored), buffer=t.Buffer()))
    return tensors


def _options(op: Any, cls: Any) -> Any | None:
    table = op.BuiltinOptions()
    if table is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _op_macs(kind: str, ins: list[_Tensor], outs: list[_Tensor], op: Any, schema: Any) -> int:
    out = outs[0].info.shape if outs else ()
    if kind == "CONV_2D" and len(ins) > 1:  # filter [out_ch, kh, kw, in_ch_per_group]
        _, kh, kw, cin = ins[1].info.shape
        return macs.conv_macs(out, kh, kw, cin)
    if kind == "DEPTHWISE_CONV_2D" and len(ins) > 1:  # filter [1, kh, kw, out_ch]
        return macs.depthwise_macs(out, ins[1].info.shape[1], ins[1].info.shape[2])
    if kind == "TRANSPOSE_CONV" and len(ins) > 2:  # (output_shape, filter [oc, kh, kw, ic], input)
        _, kh, kw, _ = ins[1].info.shape
        return macs.elements(ins[2].info.shape) * kh * kw * ins[1].info.shape[0]
    if kind == "FULLY_CONNECTED" and len(ins) > 1:  # weights [units, in]
        return macs.dense_macs(out, ins[1].info.shape[-1])
    if kind == "BATCH_MATMUL":
        opts = _options(op, schema.BatchMatMulOptions)
        a = ins[0].info.shape
        return macs.dense_macs(out, a[-2] if opts is not None and opts.AdjX() else a[-1])
    if kind in POOL:
        opts = _options(op, schema.Pool2DOptions)
        return macs.pool_macs(out, opts.FilterHeight(), opts.FilterWidth()) if opts else 0
    if kind in REDUCE:
        return macs.reduce_macs(ins[0].info.shape)
    return 0


def _op_class(kind: str, ins: list[_Tensor]) -> str:
    if ins and all(t.const for t in ins):
        return "free"  # every input is a constant: folded once when the model is prepared
    if kind == "CONV_2D":
        return "pointwise" if len(ins) > 1 and ins[1].info.shape[1:3] == (1, 1) else "conv"
    if kind in ("TRANSPOSE_CONV", "CONV_3D"):
        return "conv"
    if kind == "DEPTHWISE_CONV_2D":
        return "depthwise"
    if kind in ("FULLY_CONNECTED", "BATCH_MATMUL"):
        return "dense"
    for names, cls in (
        (POOL | REDUCE, "pool"),
        (ELEMENTWISE, "elementwise"),
        (MOVEMENT, "movement"),
        (FREE, "free"),
    ):
        if kind in names:
            return cls
    return "other"


def _op_type(model: Any, op: Any, op_names: dict[int, str]) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # deprecated field for codes < 127
    name = op_names.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        return f"CUSTOM:{(code.CustomCode() or b'').decode('utf-8', 'replace')}"
    return name


def analyze_tflite(path: Path) -> GraphAnalysis:
    schema = _schema()
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UsageError(f"{path}: not a TFLite flatbuffer (missing the TFL3 identifier)")
    try:
        analysis = _read(path, data, schema)
        check_plausible(analysis)
    except DAMAGED as exc:
        # The flatbuffers runtime checks no offset or length: a damaged file fails anywhere inside.
        raise UsageError(
            f"{path}: a damaged TFLite model: {type(exc).__name__}: {str(exc)[:200]}",
            hint="convert it again; if it came from elsewhere, the file was cut short or altered",
        ) from None
    return analysis


def _read(path: Path, data: bytes, schema: Any) -> GraphAnalysis:
    model = schema.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() == 0:
        raise UsageError(f"{path}: the model has no subgraph")
    sg = model.Subgraphs(0)
    tensors = _read_tensors(model, sg, schema)
    op_names = _enum_names(schema.BuiltinOperator)
    ops, steps = [], []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        kind = _op_type(model, op, op_names)
        ins = [tensors[j] for j in op.InputsAsNumpy().tolist() if j >= 0] if op.InputsLength() else []
        outs = [tensors[j] for j in op.OutputsAsNumpy().tolist() if j >= 0] if op.OutputsLength() else []
        acts = [t for t in ins if not t.const]
        consts = [t for t in ins if t.const]
        ops.append(
            OpInfo(
                index=i,
                type=kind,
                op_class=_op_class(kind, ins),
                dtype=(acts[0] if acts else (consts[0] if consts else outs[0])).info.dtype,
                inputs=[t.info for t in acts],
                outputs=[t.info for t in outs],
                weights=[t.info for t in consts],
                macs=int(_op_macs(kind, ins, outs, op, schema)),
                weight_dtype=consts[0].info.dtype if consts else None,
            )
        )
        steps.append(
            (
                [j for j in op.InputsAsNumpy().tolist() if j >= 0 and not tensors[j].const]
                if op.InputsLength()
                else [],
                [j for j in op.OutputsAsNumpy().tolist() if j >= 0] if op.OutputsLength() else [],
            )
        )
    graph_in = sg.InputsAsNumpy().tolist() if sg.InputsLength() else []
    graph_out = sg.OutputsAsNumpy().tolist() if sg.OutputsLength() else []
    sizes = {j: t.info.nbytes for j, t in enumerate(tensors) if not t.const}
    unique_buffers = {t.buffer: t.info.nbytes for t in tensors if t.const}
    return GraphAnalysis(
        format="tflite",
        path=path,
        size_bytes=len(data),
        ops=ops,
        weight_bytes=sum(unique_buffers.values()),
        peak_activation_bytes=peak_live_bytes(steps, sizes, graph_in, graph_out),
        inputs=[tensors[j].info for j in graph_in],
        outputs=[tensors[j].info for j in graph_out],
    )
