"""Graph analyses built directly from op rows: exact control of MACs, bytes and op mix, no TensorFlow."""

from __future__ import annotations

from pathlib import Path

from edgekit.targets.analysis.graph import GraphAnalysis, OpInfo, TensorInfo

# The built-in device profiles every release must ship.
REQUIRED_TARGETS = (
    "rpi3",
    "rpi4",
    "rpi5",
    "rpi-zero2w",
    "jetson-nano",
    "android-high",
    "android-mid",
    "browser",
    "mcu-m7",
    "host",
)

TYPES = {
    "conv": "CONV_2D",
    "pointwise": "CONV_2D",
    "depthwise": "DEPTHWISE_CONV_2D",
    "dense": "FULLY_CONNECTED",
    "pool": "AVERAGE_POOL_2D",
    "elementwise": "ADD",
    "movement": "CONCATENATION",
    "free": "RESHAPE",
}
ITEM = {"float32": 4, "int8": 1}


def op(
    index: int,
    cls: str,
    macs: int,
    out_elems: int,
    weights: int = 0,
    dtype: str = "float32",
    kind: str | None = None,
) -> OpInfo:
    item = ITEM[dtype]
    t_in = TensorInfo(f"in{index}", (1, out_elems), dtype, out_elems * item)
    t_out = TensorInfo(f"out{index}", (1, out_elems), dtype, out_elems * item)
    w = [TensorInfo(f"w{index}", (weights,), dtype, weights * item)] if weights else []
    return OpInfo(index, kind or TYPES[cls], cls, dtype, [t_in], [t_out], w, macs, dtype if weights else None)


def graph(
    rows: list[tuple], dtype: str = "float32", fmt: str = "tflite", name: str = "synthetic"
) -> GraphAnalysis:
    """ROWS: (class, macs, output elements, weight elements[, op type])."""
    ops = [op(i, r[0], r[1], r[2], r[3], dtype, r[4] if len(r) > 4 else None) for i, r in enumerate(rows)]
    weights = sum(o.weight_bytes for o in ops)
    peak = max((o.activation_bytes for o in ops), default=0)
    return GraphAnalysis(fmt, Path(f"/synthetic/{name}.{fmt}"), weights + 1024, ops, weights, peak)


def mobile_like(scale: float = 1.0, dtype: str = "float32", name: str = "mobile") -> GraphAnalysis:
    """A MobileNet-shaped op mix: conv stem, depthwise/pointwise pairs, pooling, a classifier."""
    s = scale
    rows = [("conv", int(10e6 * s), int(400e3 * s), 900)]
    for _i in range(6):
        rows += [
            ("depthwise", int(3e6 * s), int(300e3 * s), 600),
            ("elementwise", 0, int(300e3 * s), 0),
            ("pointwise", int(40e6 * s), int(300e3 * s), int(60e3 * s)),
        ]
    rows += [
        ("pool", int(50e3 * s), 1000, 0),
        ("dense", int(1e6 * s), 1000, int(1e6 * s)),
        ("free", 0, 1000, 0),
    ]
    return graph(rows, dtype, name=name)
