"""Where the cells of a run's matrix are worked: on this machine, or as tasks on a Ray cluster.

The pipeline (edgekit/stages.py) hands an executor two kinds of cell work: conversion jobs and
bench measurements. Everything else (source, data, training, parity, estimate, report) runs in
the `edgekit convert` process, which writes the run folder. An executor returns what the local
code would have returned for the same cell, so a run's rows do not depend on where it ran.

    local  this machine: conversions in worker processes (edgekit/convert/runner.py), each
           measurement in a fresh process (edgekit/bench/runner.py)
    ray    each cell a Ray task (edgekit/executors/ray.py); a target's bench cells go to the node
           that advertises the Ray resource `device:<target>`
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from edgekit.errors import UsageError

if TYPE_CHECKING:
    from edgekit.bench.measure import Protocol as BenchProtocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.convert.runner import ConvertJob, JobOutcome

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class BenchCell:
    """One artifact to measure for a target, in the runtime the target names (None: the format's)."""

    target: BenchTarget
    runtime: str | None


class Executor(Protocol):
    name: str

    def convert(
        self,
        jobs: list[ConvertJob],
        parallel: bool,
        on_outcome: Callable[[JobOutcome], None],
        memory_limit: int | None = None,
    ) -> None:
        """Run JOBS; call ON_OUTCOME in this process as each finishes, with the artifact in its
        job's final folder (or the error); one failed job never stops the others. MEMORY_LIMIT
        bounds the conversion processes' resident memory (edgekit/convert/workers.py)."""
        ...

    def bench(self, device: str, cells: list[BenchCell], protocol: BenchProtocol) -> Iterator[dict]:
        """One bench result dict per cell, in the order of CELLS, measured for target DEVICE."""
        ...

    def close(self) -> None: ...


@contextmanager
def open_executor(name: str, ray_address: str | None = None) -> Iterator[Executor]:
    """The executor NAME (`--executor`), closed when the block ends."""
    name = (name or "local").strip().lower()
    if name not in EXECUTORS:
        raise UsageError(
            f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}",
            hint="`--executor local` (the default) runs everything here; `--executor ray` on a Ray cluster",
        )
    if ray_address is not None and name != "ray":
        raise UsageError(
            f"--ray-address {ray_address} is for the Ray executor, but --executor is {name}",
            hint="add `--executor ray`, or drop --ray-address",
        )
    executor: Executor
    if name == "ray":
        from edgekit.executors.ray import RayExecutor

        executor = RayExecutor.connect(ray_address)
    else:
        from edgekit.executors.local import LocalExecutor

        executor = LocalExecutor()
    try:
        yield executor
    finally:
        executor.close()
