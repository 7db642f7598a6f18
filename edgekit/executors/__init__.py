"""Where the cells of a run's matrix are worked: on this machine, or as tasks on a Ray cluster.

The pipeline (edgekit/stages/) hands an executor two kinds of cell work: conversion jobs and
bench measurements. Everything else (source, data, training, parity, estimate, report) runs in
the `edgekit convert` process, which writes the run folder. An executor returns what the local
code would have returned for the same cell, so a run's rows do not depend on where it ran.

    local  this machine: conversions in worker processes (edgekit/convert/runner.py), each
           measurement in a fresh process (edgekit/bench/runner.py)
    ray    each cell a Ray task (edgekit/executors/ray.py); a target's bench cells go to the node
           that advertises the Ray resource `device:<target>`
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from edgekit.errors import UsageError
from edgekit.executors.base import BenchCell, Executor

__all__ = ["EXECUTORS", "BenchCell", "Executor", "open_executor"]

EXECUTORS = ("local", "ray")


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
