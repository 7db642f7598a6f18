"""The latency model shared by fitting, estimating and user calibration.

For an op with MACs m (of op class c) that moves b bytes, on a device with per-core peak
P = clock x MACs per cycle (MACs per ns) and memory bandwidth W (bytes per ns), run with n threads:

    t_op = scale * ( cost[c] * m / (P * speedup(n)) + byte_cost * b / W + overhead / clock )

- cost[c] (per op class and dtype) is the inverse of the kernel's efficiency: depthwise
  convolutions reach a smaller share of peak than 1x1 convolutions, so a MAC costs more there.
- byte_cost turns bytes moved into time at the device's bandwidth; it does not shrink with
  threads, which is why 4 threads on a Raspberry Pi give 1.5-2.3x, not 4x.
- speedup(n) = 1 / ((1 - p) + p / n) (Amdahl). The parallel share p is fitted per dtype at 4 GB/s
  of memory bandwidth per core (the device's bandwidth over the cores that run the threads: its
  big cores), with a fitted exponent b for how the serial share shrinks with more:
  logit(p) = logit(p_4GB/s) + b * log(W / big cores / 4 GB/s). Four threads on a Raspberry Pi (32-bit
  LPDDR shared by four cores: 1-3 GB/s each) scale worse than four on a phone's big cores (7-15).
- overhead: a fixed cost per op (dispatch, packing), in microseconds at 1 GHz.
- scale = exp(device term + runtime family term + 32-bit OS term + int8-on-SDOT term): how this
  device and runtime differ from what their specs alone predict.
- Runtimes whose 3x3 stride-1 convolutions use Winograd kernels (ncnn) do fewer multiplies there:
  those MACs count 1/reduction (see `winograd_macs`); the TFLite interpreter and XNNPACK use GEMM.
- P depends on the arithmetic the runtime uses, not only on the model's dtype: wasm without SIMD
  runs scalar code (one lane of the SIMD width), fp16 arithmetic packs twice the fp32 lanes, and
  WebAssembly has no fused multiply-add, so a MAC there is two instructions (half the peak).
The model is linear in the per-op quantities, so a graph's latency is the sum over its ops, and
the same function serves one op, one graph, or a matrix of graphs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.targets.analysis.graph import GraphAnalysis, OpInfo
from edgekit.targets.macs import elements

# Compute terms, each with its own cost per unit. The unit is a MAC for the MAC-doing classes; for
# elementwise ops (activations, adds, requantization) it is one output element: they do no MACs,
# but int8 hard-swish or sigmoid take real arithmetic per element.
COMPUTE_TERMS = ("conv", "pointwise", "depthwise", "dense", "pool", "elementwise")
MAC_CLASSES = ("conv", "pointwise", "depthwise", "dense", "pool")
# Memory terms: bytes of activations read and written plus weights read, once per inference.
# (Separate activation and weight costs, and a cost per output element, were tried on the
# published data and did not lower the held-out error: they are left out.)
MEMORY_TERMS = ("bytes",)
COMPUTE_DTYPES = ("fp32", "int8")


# How a runtime computes: SIMD lanes of the dtype, scalar, fp16 SIMD; the wasm- kinds are the
# same lanes in WebAssembly code.
ARITHMETIC = ("simd", "scalar", "fp16", "wasm-simd", "wasm-scalar")


def macs_per_cycle(
    fp32_macs_per_cycle: float, dotprod: bool, dtype: str, arithmetic: str = "simd", simd_bits: int = 128
) -> float:
    """Peak MACs per cycle and core for DTYPE: the shape of the device the model scales by.

    int8 without the dot-product extension widens to 16 bits (SMLAL: twice the fp32 lanes);
    with it, SDOT does 4 int8 MACs per 32-bit lane (four times the fp32 lanes). Scalar code
    (wasm without SIMD) uses one 32-bit lane of the SIMD_BITS-wide datapath; fp16 arithmetic
    fits twice as many lanes as fp32. WebAssembly (the MVP and SIMD128) has no fused
    multiply-add: its kernels issue a multiply and an add where native code issues one FMA on the
    same pipes, so wasm code reaches half the peak (relaxed SIMD's madd came after these results).
    """
    peak = float(fp32_macs_per_cycle)
    if dtype == "int8":
        peak *= 4.0 if dotprod else 2.0
    lanes = arithmetic.removeprefix("wasm-")
    if lanes == "scalar":
        peak *= 32.0 / max(simd_bits, 32)
    elif lanes == "fp16":
        peak *= 2.0
    return peak / 2.0 if arithmetic.startswith("wasm-") else peak


@dataclass(frozen=True)
class Features:
    """What the latency model reads from a graph (or from each op): work per term, bytes, op count."""

    compute: np.ndarray  # shape (..., len(COMPUTE_TERMS))
    memory: np.ndarray  # shape (..., len(MEMORY_TERMS))
    n_ops: np.ndarray  # shape (...)
    winograd: np.ndarray | float = 0.0  # the part of compute["conv"] a Winograd runtime does cheaper

    def to_dict(self) -> dict[str, object]:
        return {
            "compute": {c: float(v) for c, v in zip(COMPUTE_TERMS, np.asarray(self.compute).reshape(-1))},
            "memory": {m: float(v) for m, v in zip(MEMORY_TERMS, np.asarray(self.memory).reshape(-1))},
            "n_ops": int(self.n_ops),
            "winograd_macs": float(self.winograd),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Features:
        return cls(
            np.array([float(d["compute"].get(c, 0.0)) for c in COMPUTE_TERMS]),
            np.array([float(d["memory"].get(m, 0.0)) for m in MEMORY_TERMS]),
            np.asarray(int(d["n_ops"])),
            float(d.get("winograd_macs", 0.0)),
        )

    def with_winograd(self, reduction: float) -> np.ndarray:
        """Compute work as a runtime with Winograd 3x3 kernels does it: those MACs count 1/REDUCTION."""
        compute = np.array(self.compute, dtype=float)
        compute[..., COMPUTE_TERMS.index("conv")] -= np.asarray(self.winograd) * (1.0 - 1.0 / reduction)
        return compute


def costed(op: OpInfo) -> bool:
    """Ops that take time at run time: everything except views and ops on constants only."""
    return op.op_class != "free"


def _op_row(op: OpInfo) -> list[float]:
    row = [0.0] * len(COMPUTE_TERMS)
    if op.op_class in MAC_CLASSES:
        row[COMPUTE_TERMS.index(op.op_class)] = float(op.macs)
    elif op.op_class == "elementwise":
        row[COMPUTE_TERMS.index("elementwise")] = float(sum(elements(t.shape) for t in op.outputs))
    return row


def winograd_macs(op: OpInfo) -> int:
    """MACs of a 3x3 stride-1 convolution: the case Winograd kernels (F(2x2,3x3) and up) speed up.

    Stride 1 shows as equal input and output spatial sizes ("same" padding, the case in the
    calibration models); TFLite filters are [out, kh, kw, in] over NHWC, ONNX [out, in, kh, kw] over NCHW.
    """
    if op.op_class != "conv" or not op.weights or not op.inputs or not op.outputs:
        return 0
    if op.type == "CONV_2D":
        kernel, spatial = op.weights[0].shape[1:3], slice(1, 3)
    elif op.type == "Conv":
        kernel, spatial = op.weights[0].shape[2:4], slice(2, 4)
    else:
        return 0
    same_size = op.inputs[0].shape[spatial] == op.outputs[0].shape[spatial]
    return op.macs if tuple(kernel) == (3, 3) and same_size else 0


def op_features(ops: list[OpInfo]) -> Features:
    """One row per op, for the per-op breakdown of an estimate."""
    compute = np.array([_op_row(op) if costed(op) else [0.0] * len(COMPUTE_TERMS) for op in ops], dtype=float)
    memory = np.array(
        [[op.activation_bytes + op.weight_bytes] if costed(op) else [0.0] for op in ops], dtype=float
    )
    return Features(
        compute.reshape(len(ops), len(COMPUTE_TERMS)),
        memory.reshape(len(ops), len(MEMORY_TERMS)),
        np.array([1.0 if costed(op) else 0.0 for op in ops]),
        np.array([float(winograd_macs(op)) for op in ops]),
    )


def graph_features(analysis: GraphAnalysis) -> Features:
    per_op = op_features(analysis.ops)
    return Features(
        per_op.compute.sum(0), per_op.memory.sum(0), per_op.n_ops.sum(), float(np.sum(per_op.winograd))
    )


PARALLEL_REFERENCE_GBS = 4.0  # memory bandwidth per core at which the fitted parallel share applies


def parallel_share(
    parallel: np.ndarray | float,
    bandwidth_exponent: np.ndarray | float,
    core_bandwidth_gbs: np.ndarray | float,
) -> np.ndarray:
    """The parallel share on cores with CORE_BANDWIDTH_GBS each, from PARALLEL, the share at the reference.

    A property of the device, not of the thread count, so more threads never estimate slower.
    """
    p = np.clip(parallel, 1e-9, 1.0 - 1e-9)
    shift = bandwidth_exponent * np.log(np.asarray(core_bandwidth_gbs, dtype=float) / PARALLEL_REFERENCE_GBS)
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1.0 - p)) + shift)))


def latency_ms(
    compute: np.ndarray,
    memory: np.ndarray,
    n_ops: np.ndarray,
    *,
    compute_cost: np.ndarray,
    memory_cost: np.ndarray,
    overhead_us: np.ndarray | float,
    parallel: np.ndarray | float,
    clock_ghz: np.ndarray | float,
    macs_per_cycle: np.ndarray | float,
    bandwidth_gbs: np.ndarray | float,
    threads: np.ndarray | float,
    scale: np.ndarray | float,
) -> np.ndarray:
    """The model above, vectorized: leading dimensions of all arguments broadcast together.

    PARALLEL is the device's parallel share (`parallel_share`)."""
    speedup = 1.0 / ((1.0 - parallel) + parallel / np.maximum(threads, 1))
    compute_ms = (compute * compute_cost).sum(-1) / (clock_ghz * macs_per_cycle * 1e6) / speedup
    memory_ms = (memory * memory_cost).sum(-1) / (bandwidth_gbs * 1e6)
    fixed_ms = overhead_us * n_ops / (clock_ghz * 1e3)
    return scale * (compute_ms + memory_ms + fixed_ms)
