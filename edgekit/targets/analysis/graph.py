"""What graph analysis produces, whatever the file format: per-op rows, totals, peak memory.

The format readers (tflite.py, onnx.py) turn a model file into a list of `OpInfo` rows in
execution order plus the tensor lifetimes; everything format-independent lives here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Op classes: the estimator gives each class its own efficiency factor, because a depthwise
# convolution does far less work per byte moved than a 1x1 convolution on the same device.
OP_CLASSES = (
    "conv",  # spatial convolution (kernel larger than 1x1), grouped or not
    "pointwise",  # 1x1 convolution: a matrix multiply over channels
    "depthwise",  # one filter per channel
    "dense",  # fully connected / matmul
    "pool",  # windowed pooling and reductions (mean, max, sum)
    "elementwise",  # add, mul, activations, (de)quantize of activations: bound by memory traffic
    "movement",  # concat, pad, transpose, slice, resize: copies data, no arithmetic
    "free",  # reshape-like views and ops on constants only: no run-time cost
    "other",  # anything not classified: reported, costed by its bytes only
)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name
    nbytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "bytes": self.nbytes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorInfo:
        return cls(str(d["name"]), tuple(int(x) for x in d["shape"]), str(d["dtype"]), int(d["bytes"]))


@dataclass
class OpInfo:
    index: int
    type: str  # the format's own op name: CONV_2D (tflite), Conv (onnx)
    op_class: str  # one of OP_CLASSES
    dtype: str  # compute dtype: dtype of the first activation input (weights' dtype for const ops)
    inputs: list[TensorInfo]  # activation inputs (not constants)
    outputs: list[TensorInfo]
    weights: list[TensorInfo]  # constant inputs
    macs: int
    weight_dtype: str | None = None

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in self.weights)

    @property
    def activation_bytes(self) -> int:
        """Bytes of activations read and written once: the op's memory traffic besides weights."""
        return sum(t.nbytes for t in self.inputs) + sum(t.nbytes for t in self.outputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "type": self.type,
            "class": self.op_class,
            "dtype": self.dtype,
            "weight_dtype": self.weight_dtype,
            "macs": self.macs,
            "weight_bytes": self.weight_bytes,
            "activation_bytes": self.activation_bytes,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "weights": [t.to_dict() for t in self.weights],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpInfo:
        return cls(
            index=int(d["index"]),
            type=str(d["type"]),
            op_class=str(d["class"]),
            dtype=str(d["dtype"]),
            inputs=[TensorInfo.from_dict(t) for t in d["inputs"]],
            outputs=[TensorInfo.from_dict(t) for t in d["outputs"]],
            weights=[TensorInfo.from_dict(t) for t in d["weights"]],
            macs=int(d["macs"]),
            weight_dtype=d.get("weight_dtype"),
        )


@dataclass
class GraphAnalysis:
    format: str  # tflite | onnx
    path: Path
    size_bytes: int  # the model file on disk
    ops: list[OpInfo]
    weight_bytes: int  # unique constant buffers (shared buffers counted once)
    peak_activation_bytes: int
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)

    @property
    def total_macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def activation_traffic_bytes(self) -> int:
        return sum(op.activation_bytes for op in self.ops)

    def op_types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.type] = counts.get(op.type, 0) + 1
        return dict(sorted(counts.items()))

    def macs_by_class(self) -> dict[str, int]:
        out = {c: 0 for c in OP_CLASSES}
        for op in self.ops:
            out[op.op_class] += op.macs
        return out

    def dtypes(self) -> set[str]:
        return {op.dtype for op in self.ops if op.op_class not in ("free", "movement")}

    def to_dict(self, include_ops: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": self.format,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "total_macs": self.total_macs,
            "weight_bytes": self.weight_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "activation_traffic_bytes": self.activation_traffic_bytes,
            "num_ops": len(self.ops),
            "op_types": self.op_types(),
            "macs_by_class": {k: v for k, v in self.macs_by_class().items() if v},
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }
        if include_ops:
            d["ops"] = [op.to_dict() for op in self.ops]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GraphAnalysis:
        """The inverse of to_dict(include_ops=True): an analysis saved as JSON, read back."""
        if "ops" not in d:
            raise ValueError("the analysis has no per-op rows (saved with include_ops=False)")
        try:
            analysis = cls(
                format=str(d["format"]),
                path=Path(d["path"]),
                size_bytes=int(d["size_bytes"]),
                ops=[OpInfo.from_dict(op) for op in d["ops"]],
                weight_bytes=int(d["weight_bytes"]),
                peak_activation_bytes=int(d["peak_activation_bytes"]),
                inputs=[TensorInfo.from_dict(t) for t in d.get("inputs", [])],
                outputs=[TensorInfo.from_dict(t) for t in d.get("outputs", [])],
            )
        except DAMAGED as exc:  # int(inf), a list where an object belongs, ...: one error type for callers
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        check_plausible(analysis)  # a saved analysis is user input like any model file
        return analysis


# What a real model can hold, with room to spare: beyond these, the file is damaged or hostile,
# and the estimator's arithmetic (floats, logs) would overflow on its numbers.
MAX_DIM = 1 << 31
MAX_ELEMENTS = 1 << 40
MAX_BYTES = 1 << 48
MAX_MACS = 1 << 60
MAX_OPS = 1 << 20
# The exceptions a reader of untrusted bytes can raise from the format libraries (flatbuffers
# trusts every offset: struct.error; protobuf fields of the wrong kind: TypeError, ...). Readers
# turn them into one UsageError naming the file.
DAMAGED = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError, RecursionError, struct.error)


def _has_graph_reader(fmt: str) -> bool:
    from edgekit.convert import FORMATS

    return fmt in FORMATS and FORMATS.get(fmt).analysis is not None


def check_plausible(analysis: GraphAnalysis) -> None:
    """Raise ValueError when ANALYSIS holds numbers no real model has (negative, absurdly large)."""
    if not _has_graph_reader(analysis.format):
        raise ValueError(f"format {analysis.format!r} has no graph reader")
    if len(analysis.ops) > MAX_OPS:
        raise ValueError(f"{len(analysis.ops)} ops")
    for what, value, limit in (
        ("size_bytes", analysis.size_bytes, MAX_BYTES),
        ("weight_bytes", analysis.weight_bytes, MAX_BYTES),
        ("peak_activation_bytes", analysis.peak_activation_bytes, MAX_BYTES),
    ):
        if not 0 <= value <= limit:
            raise ValueError(f"{what} is {value}")
    for t in (*analysis.inputs, *analysis.outputs):
        _check_tensor(t, "graph input/output")
    for op in analysis.ops:
        where = f"op {op.index} ({op.type!r})"
        if not (
            isinstance(op.type, str) and isinstance(op.dtype, str)
        ):  # protobuf hands back bytes for bad UTF-8
            raise ValueError(f"{where}: op type and dtype must be text")
        if op.op_class not in OP_CLASSES:
            raise ValueError(f"{where}: unknown op class {op.op_class!r}")
        if not 0 <= op.macs <= MAX_MACS:
            raise ValueError(f"{where}: {op.macs} MACs")
        for t in (*op.inputs, *op.outputs, *op.weights):
            _check_tensor(t, where)


def _check_tensor(t: TensorInfo, where: str) -> None:
    if not (isinstance(t.name, str) and isinstance(t.dtype, str)):
        raise ValueError(f"{where}: tensor name and dtype must be text, got {t.name!r}")
    elements = 1
    for d in t.shape:
        if not 0 <= d < MAX_DIM:
            raise ValueError(f"{where}: tensor {t.name!r} has dimension {d}")
        elements *= d
    if elements > MAX_ELEMENTS or not 0 <= t.nbytes <= MAX_BYTES:
        raise ValueError(f"{where}: tensor {t.name!r} of shape {list(t.shape)} ({t.nbytes} bytes)")


def peak_live_bytes(
    steps: list[tuple[list[int], list[int]]],
    sizes: dict[int, int],
    graph_inputs: list[int],
    graph_outputs: list[int],
) -> int:
    """Largest sum of live activation bytes at any op, from tensor lifetimes.

    STEPS holds, per op in execution order, its (activation input ids, output ids). A tensor lives
    from the op that writes it (graph inputs: from the start) to the last op that reads it (graph
    outputs: to the end); an op's inputs and outputs are live together while it runs. This is a
    lower bound of what an arena planner allocates (it ignores fragmentation), and the figure
    TFLite Micro's greedy planner approaches on chain-like vision graphs.
    """
    last = len(steps) - 1
    start: dict[int, int] = {t: 0 for t in graph_inputs}
    end: dict[int, int] = {}
    for i, (ins, outs) in enumerate(steps):
        for t in outs:
            start.setdefault(t, i)
        for t in ins:
            end[t] = i
    for t in graph_outputs:
        end[t] = last
    live = [0] * max(len(steps), 1)
    for t, s in start.items():
        e = max(end.get(t, s), s)
        for i in range(s, e + 1):
            live[i] += sizes.get(t, 0)
    return max(live)
