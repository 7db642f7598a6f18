"""What a .tflite artifact will meet on a device: XNNPACK's share of its ops, GPU delegate compatibility."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path


def xnnpack_share(path: Path) -> dict:
    """Which ops LiteRT's default XNNPACK delegate takes, found from the delegated partitions.

    After delegation the interpreter still lists every original node plus one DELEGATE node per
    partition. A partition is the set of nodes between the DELEGATE node's inputs and outputs, so
    walking back from its outputs to its inputs recovers exactly the delegated nodes.
    """
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    ops = interp._get_ops_details()  # noqa: SLF001 (the public API has no node list)
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    nodes = [op for op in ops if op["op_name"] != "DELEGATE"]
    producer = {int(t): op["index"] for op in nodes for t in op["outputs"]}
    taken: set[int] = set()
    for d in delegates:
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        while stack:
            t = stack.pop()
            node = producer.get(t)
            if t in boundary or node is None or node in taken:
                continue
            taken.add(node)
            stack += [int(i) for i in next(op for op in nodes if op["index"] == node)["inputs"] if i >= 0]
    left = sorted({op["op_name"] for op in nodes if op["index"] not in taken})
    return {
        "delegate": "XNNPACK",
        "ops": len(nodes),
        "delegated_ops": len(taken),
        "share": len(taken) / len(nodes) if nodes else 0.0,
        "not_delegated": left,
    }


def gpu_compatibility(path: Path) -> dict:
    """LiteRT's analyzer verdict on the GPU delegate, with the incompatible ops it names."""
    import tensorflow as tf

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tf.lite.experimental.Analyzer.analyze(model_path=str(path), gpu_compatibility=True)
    text = out.getvalue()
    compatible = "looks compatible with GPU delegate" in text
    issues = [
        line.strip()
        for line in text.splitlines()
        if "GPU COMPATIBILITY WARNING" in line or "Not supported op" in line
    ]
    return {"compatible": compatible, "issues": issues[:20]}
