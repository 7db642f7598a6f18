"""The local executor: every cell on this machine, exactly as `edgekit convert` always ran them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from edgekit.bench.measure import Protocol
from edgekit.convert.runner import ConvertJob, JobOutcome, run_jobs
from edgekit.executors.base import BenchCell


class LocalExecutor:
    name = "local"

    def convert(
        self,
        jobs: list[ConvertJob],
        parallel: bool,
        on_outcome: Callable[[JobOutcome], None],
        memory_limit: int | None = None,
    ) -> None:
        run_jobs(jobs, parallel, on_outcome, memory_limit)

    def bench(self, device: str, cells: list[BenchCell], protocol: Protocol) -> Iterator[dict]:
        from edgekit.bench.runner import bench_target

        # one artifact at a time: two measurements on one machine would disturb each other
        for cell in cells:
            yield bench_target(cell.target, protocol, cell.runtime)

    def close(self) -> None:
        pass
