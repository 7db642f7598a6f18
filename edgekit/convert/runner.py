"""Run conversion jobs: each into its own folder atomically, formats in parallel worker processes.

Converters for different formats share nothing but the reference on disk, and each spends most
of its time in single-threaded graph rewriting, so formats convert in parallel processes, as many
as there are cores. A process takes whole formats and runs their jobs one after another, so it
imports TensorFlow once (about 3 s of CPU) for all of them; with more formats than cores, one
process converts several formats rather than a fresh process starting for each. Sequential runs
(convert.parallel: false) give each format a fresh process, so no format's leftovers add to the
next one's peak memory.
The processes themselves (memory limit, Ctrl-C) are edgekit/convert/workers.py's.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.convert.memory import peak_bytes, reset_peak
from edgekit.convert.workers import WorkerPool
from edgekit.errors import EdgekitError
from edgekit.fsutil import atomic_dir, atomic_write_json

SIDECARS = ("labels.txt", "preprocessing.json")  # metadata copied beside every artifact


@dataclass
class ConvertJob:
    format: str
    quant: str
    reference: Path
    final: Path  # the artifact's folder
    options: dict[str, Any] = field(default_factory=dict)
    calibration: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobOutcome:
    job: ConvertJob
    artifact: Artifact | None = None
    error: str | None = None
    trace: str | None = None  # set for unexpected exceptions (converter bugs), kept in the run's logs
    seconds: float | None = None  # wall time of the conversion in its worker
    peak_rss_bytes: int | None = None  # the worker's peak resident memory during this job (Linux)


def run_job(job: ConvertJob) -> Artifact:
    from edgekit.convert import FORMATS
    from edgekit.convert.base import ConversionRequest

    with atomic_dir(job.final) as tmp:
        request = ConversionRequest(
            job.reference, job.format, job.quant, tmp, job.calibration, job.options, job.metadata
        )
        artifact = FORMATS.get(job.format).convert(request)
        artifact.path = job.final / artifact.path.name
        if job.calibration is not None and artifact.metadata.get("calibration_samples"):
            # the bundle manifest records which calibration set built the artifact
            artifact.metadata["calibration_sha256"] = hashlib.sha256(
                np.ascontiguousarray(job.calibration).tobytes()
            ).hexdigest()
        for name in SIDECARS:
            if (job.reference / name).is_file():
                shutil.copy2(job.reference / name, tmp / name)
        atomic_write_json(tmp / ARTIFACT_JSON, artifact.to_dict())
    return artifact


def _run_measured(job: ConvertJob) -> JobOutcome:
    """In a worker: the job's outcome with its wall time and peak memory during it: this process's, or
    that of a process the converter started and waited for (the ONNX export freezes large models in
    one), whichever is larger."""
    reset_peak()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    outcome = _run_guarded(job)
    outcome.seconds = round(time.perf_counter() - start, 3)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    child_peak = children_after * 1024 if children_after > children_before else 0  # KiB on Linux
    own = peak_bytes()
    outcome.peak_rss_bytes = max(own, child_peak) if own is not None else (child_peak or None)
    return outcome


def _failed(job: ConvertJob, message: str) -> JobOutcome:
    return JobOutcome(job, error=message)


def _run_guarded(job: ConvertJob) -> JobOutcome:
    try:
        return JobOutcome(job, artifact=run_job(job))
    except EdgekitError as exc:
        return JobOutcome(job, error=str(exc).split("\n  hint:")[0])
    except Exception as exc:  # a converter bug must not crash the matrix: keep the trace for the log
        return JobOutcome(job, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())


def worker_groups(formats: list[list[ConvertJob]], width: int) -> list[list[ConvertJob]]:
    """Whole formats packed into WIDTH groups, one per worker, the most jobs first into the emptiest group.

    Within a group, formats keep the order they were given in.
    """
    if width >= len(formats):
        return formats
    groups: list[list[list[ConvertJob]]] = [[] for _ in range(width)]
    for fmt in sorted(formats, key=len, reverse=True):
        min(groups, key=lambda g: sum(map(len, g))).append(fmt)
    order = {id(fmt): i for i, fmt in enumerate(formats)}
    return [[job for fmt in sorted(g, key=lambda f: order[id(f)]) for job in fmt] for g in groups if g]


def run_jobs(
    jobs: list[ConvertJob],
    parallel: bool,
    on_outcome: Callable[[JobOutcome], None],
    memory_limit: int | None = None,
) -> None:
    """Run JOBS in worker processes; call ON_OUTCOME in the parent as each finishes (success or failure).

    When PARALLEL, formats are packed into as many workers as there are cores; otherwise each format
    converts in its own worker, one after another. MEMORY_LIMIT bounds the resident memory of the
    workers together: the one that takes them over it is stopped, its job fails naming the limit,
    and the rest of that worker's jobs go on in a fresh worker.
    Ctrl-C stops every worker at once and raises (unfinished folders are temporaries to sweep).
    """
    by_format: dict[str, list[ConvertJob]] = {}
    for job in jobs:
        by_format.setdefault(job.format, []).append(job)
    formats = list(by_format.values())
    if parallel:
        width = max(min(len(formats), os.cpu_count() or 1), 1)
        groups = worker_groups(formats, width)
    else:  # one format at a time, each in a fresh process: the least memory at any moment
        width, groups = 1, formats
    pool = WorkerPool(groups, width, memory_limit, _run_measured, _failed)
    try:
        pool.run(on_outcome)
    finally:
        pool.stop()
