"""What a Ray task runs on a cluster node: one conversion or one measurement.

These functions import no Ray at module level and read no path of the driver's machine: their
inputs arrive as arguments (folders as tar bytes, edgekit/executors/payload.py) and their outputs
go back as return values. Each node needs the same edgekit version installed as the driver (with
the `tf` extra on nodes that convert; the core install is enough on a node that only measures).
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.bench.measure import Protocol
from edgekit.executors.payload import pack_folder, unpack

REFERENCE = "reference"
ARTIFACTS = "artifacts"


def node_info() -> dict[str, Any]:
    """The Ray node this task runs on: its id (as `ray.nodes()` lists it), hostname and address."""
    import ray

    from edgekit import __version__

    return {
        "edgekit": __version__,  # the driver refuses a cell worked by another version
        "id": ray.get_runtime_context().get_node_id(),
        "hostname": socket.gethostname(),
        "ip": ray.util.get_node_ip_address(),
    }


def convert_cell(
    reference: bytes,
    fmt: str,
    quant: str,
    options: dict[str, Any],
    calibration: np.ndarray | None,
    metadata: dict[str, Any],
    memory_limit: int | None = None,
) -> dict[str, Any]:
    """Convert the reference (tar bytes) for one (format, quant) cell, exactly as the local runner does.

    Returns {"folder": the artifact folder as tar bytes | None, "error", "trace", "seconds",
    "peak_rss_bytes", "node"}.
    """
    from edgekit.convert.runner import ConvertJob, JobOutcome, run_jobs

    with tempfile.TemporaryDirectory(prefix="edgekit-ray-convert-") as tmp:
        root = Path(tmp)
        job = ConvertJob(
            fmt,
            quant,
            unpack(reference, root / REFERENCE),
            root / ARTIFACTS / f"{fmt}-{quant}",
            options,
            calibration,
            metadata,
        )
        outcomes: list[JobOutcome] = []
        # guarded: a converter error comes back as an outcome
        run_jobs([job], False, outcomes.append, memory_limit)
        outcome = outcomes[0]
        return {
            "folder": pack_folder(job.final) if outcome.artifact is not None else None,
            "error": outcome.error,
            "trace": outcome.trace,
            "seconds": outcome.seconds,
            "peak_rss_bytes": outcome.peak_rss_bytes,
            "node": node_info(),
        }


def bench_cell(
    bundle: bytes, name: str, fmt: str | None, runtime: str | None, protocol: Protocol
) -> dict[str, Any]:
    """Measure artifact NAME from BUNDLE (tar bytes of artifacts/NAME/ and the reference's bench
    inputs) in a fresh process on this node. Returns {"result", "root", "node"}: ROOT is the
    folder the bundle was unpacked into, so the caller can put its own paths back in the result."""
    from edgekit.bench.runner import bench_target
    from edgekit.bench.targets import BenchTarget

    with tempfile.TemporaryDirectory(prefix="edgekit-ray-bench-") as tmp:
        root = unpack(bundle, Path(tmp)).resolve()
        reference = root / REFERENCE
        target = BenchTarget(
            "artifact-dir", root / ARTIFACTS / name, fmt, reference if reference.is_dir() else None
        )
        result = bench_target(target, protocol, runtime)
        return {"result": result, "root": str(root), "node": node_info()}
