"""The tensor arena TensorFlow Lite Micro needs for a .tflite graph, predicted from its ops.

TFLM places every activation tensor in one arena with its greedy memory planner (largest buffer
first, each at the lowest offset that does not collide with a buffer alive at the same time,
16-byte aligned), then keeps its own bookkeeping at the arena's tail: one TfLiteEvalTensor per
tensor, one node-and-registration struct per op, per-channel requantization data for
convolutions and kernel op data. The peak of live activations (graph.peak_live_bytes) is a lower
bound the planner rarely reaches, so a verdict made from it passes models that then fail to
allocate on the device. This module mirrors the planner and adds the bookkeeping; the constants
were measured against the tflite-micro interpreter (tests/runtimes/test_tflm.py checks the
prediction is enough, and less than twice what TFLM needs).
"""

from __future__ import annotations

from edgekit.targets.analysis.graph import GraphAnalysis, TensorInfo

ALIGN = 16
EVAL_TENSOR_BYTES = 24  # sizeof(TfLiteEvalTensor) on a 64-bit host; 12-16 on Cortex-M: an upper bound there
NODE_BYTES = 64  # NodeAndRegistration
OP_DATA_BYTES = 160  # kernel OpData (quantized multipliers, padding, scratch indices) per op, upper end
CHANNEL_BYTES = 8  # per output channel of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: multiplier + shift
IO_TENSOR_BYTES = 128  # persistent TfLiteTensor + quantization params for each graph input/output
FIXED_BYTES = 1024  # interpreter, subgraph and allocator structs
HEADROOM = 1.10  # the planner's per-kernel scratch buffers are not in the graph


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _lifetimes(analysis: GraphAnalysis) -> dict[tuple[str, tuple[int, ...], str], list[int]]:
    """Activation tensor → [first op, last op, bytes]; tensors are identified by name, shape and dtype."""
    last = max(len(analysis.ops) - 1, 0)
    life: dict[tuple[str, tuple[int, ...], str], list[int]] = {}

    def key(t: TensorInfo) -> tuple[str, tuple[int, ...], str]:
        return (t.name, tuple(t.shape), t.dtype)

    for t in analysis.inputs:
        life[key(t)] = [0, 0, int(t.nbytes)]
    for i, op in enumerate(analysis.ops):
        for t in op.outputs:
            life.setdefault(key(t), [i, i, int(t.nbytes)])
        for t in (*op.inputs, *op.outputs):
            entry = life.setdefault(key(t), [i, i, int(t.nbytes)])
            entry[1] = max(entry[1], i)
    for t in analysis.outputs:
        if key(t) in life:
            life[key(t)][1] = last
    return life


def greedy_plan_bytes(analysis: GraphAnalysis) -> int:
    """The size of TFLM's GreedyMemoryPlanner layout of the activation tensors."""
    buffers = sorted(_lifetimes(analysis).values(), key=lambda b: -b[2])
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    top = 0
    for first, last_use, size in buffers:
        size = _aligned(size)
        offset = 0
        for o, e, _f, _lu in sorted(p for p in placed if not (p[3] < first or p[2] > last_use)):
            if offset + size <= o:
                break
            offset = max(offset, e)
        placed.append((offset, offset + size, first, last_use))
        top = max(top, offset + size)
    return max(top, analysis.peak_activation_bytes)


def persistent_bytes(analysis: GraphAnalysis) -> int:
    """TFLM's bookkeeping at the arena's tail."""
    tensors = len(_lifetimes(analysis)) + sum(len(op.weights) for op in analysis.ops)
    channels = sum(
        op.outputs[0].shape[-1]
        for op in analysis.ops
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
        and op.outputs
        and op.outputs[0].shape
    )
    io = len(analysis.inputs) + len(analysis.outputs)
    return (
        EVAL_TENSOR_BYTES * tensors
        + (NODE_BYTES + OP_DATA_BYTES) * len(analysis.ops)
        + CHANNEL_BYTES * channels
        + IO_TENSOR_BYTES * io
        + FIXED_BYTES
    )


def tflm_arena_bytes(analysis: GraphAnalysis) -> int:
    """The arena size to give TFLite Micro's interpreter for this graph, 16-byte aligned."""
    return _aligned(int(greedy_plan_bytes(analysis) * HEADROOM) + persistent_bytes(analysis))
