"""Run conversion jobs: each into its own folder atomically, formats in parallel processes.

Converters for different formats share nothing but the reference on disk, and each spends most
of its time in single-threaded graph rewriting, so one process per format overlaps them. Within a
format, jobs run one after another in the same process, so that process loads TensorFlow once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.errors import EdgekitError
from edgekit.fsutil import atomic_dir, atomic_write_json
from edgekit.interrupt import checkpoint, ignore_sigint

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


def _run_guarded(job: ConvertJob) -> JobOutcome:
    try:
        return JobOutcome(job, artifact=run_job(job))
    except EdgekitError as exc:
        return JobOutcome(job, error=str(exc).split("\n  hint:")[0])
    except Exception as exc:  # a converter bug must not crash the matrix: keep the trace for the log
        return JobOutcome(job, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())


def _run_sequence(jobs: list[ConvertJob]) -> list[JobOutcome]:
    from edgekit.quiet import quiet_native_stderr

    with quiet_native_stderr():
        return [_run_guarded(job) for job in jobs]


def run_jobs(jobs: list[ConvertJob], parallel: bool, on_outcome: Callable[[JobOutcome], None]) -> None:
    """Run JOBS; call ON_OUTCOME in the parent as each finishes (success or failure).

    Ctrl-C stops the run after at most the job in progress in this process; worker processes
    are stopped at once (their unfinished folders are temporaries the pipeline sweeps).
    """
    groups: dict[str, list[ConvertJob]] = {}
    for job in jobs:
        groups.setdefault(job.format, []).append(job)
    workers = min(len(groups), os.cpu_count() or 1)
    if not parallel or workers < 2:
        for job in jobs:
            checkpoint()
            on_outcome(_run_guarded(job))
        checkpoint()
        return
    # spawn, not fork: TensorFlow's thread pools do not survive a fork of an initialized process.
    # Workers ignore SIGINT: a terminal's Ctrl-C reaches them too, and the parent stops them itself.
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=ignore_sigint
    )
    try:
        futures = [pool.submit(_run_sequence, group) for group in groups.values()]
        for future in as_completed(futures):
            for outcome in future.result():
                on_outcome(outcome)
            checkpoint()
    except BaseException:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    # shutdown(cancel_futures=True) cancels only jobs not yet started and then waits for the running
    # ones, minutes of conversion after the user asked to stop. Python 3.14 has terminate_workers();
    # until then the executor's process table is the only handle on them.
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.join(timeout=30)
