"""What an executor is (the Executor protocol) and the bench cell it measures.

Its own module so that the executors (local.py, ray.py) and the package, which picks one of
them (open_executor), do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from edgekit.bench.measure import Protocol as BenchProtocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.convert.runner import ConvertJob, JobOutcome


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
