"""Worker processes for conversions: started, watched for memory, stopped on Ctrl-C.

Each worker converts its jobs in order and reports over a pipe when it starts and ends each one,
so the parent always knows which job a worker is on. The parent reads every worker's resident
memory, together with that of any process the worker started, POLL_S apart; when the workers
together go over the memory limit, the largest is killed with the processes it started, the job
it was on fails with a message naming the limit, and its remaining jobs go on in a fresh worker. A worker that dies on its own (a converter's native crash) fails its job the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Generic, TypeVar

from edgekit.convert.memory import descendants, format_bytes, tree_resident_bytes
from edgekit.interrupt import checkpoint, ignore_sigint

J = TypeVar("J")
O = TypeVar("O")  # noqa: E741 - the outcome type, beside J for the job
POLL_S = 0.05  # memory is read 20 times a second; a fast-growing worker can overshoot by that much
LIMIT_HINT = (
    "raise it with --set convert.memory_limit=SIZE (e.g. 8GiB), or set convert.parallel: false "
    "so formats convert one at a time"
)


def _worker_main(conn: Connection, run_one: Callable[[J], O], jobs: list[J]) -> None:
    # spawn, not fork (TensorFlow's thread pools do not survive a fork). Ctrl-C reaches the whole
    # process group; the parent alone decides and stops its workers itself.
    ignore_sigint()
    from edgekit.quiet import quiet_native_stderr

    with quiet_native_stderr():
        for index, job in enumerate(jobs):
            conn.send(("start", index))
            conn.send(("done", index, run_one(job)))
    conn.close()


@dataclass
class _Worker(Generic[J]):
    process: multiprocessing.process.BaseProcess
    conn: Connection
    jobs: list[J]
    current: int | None = None
    finished: set[int] = field(default_factory=set)

    def remaining(self, after_current: bool) -> list[J]:
        skip = self.finished | ({self.current} if after_current and self.current is not None else set())
        return [job for i, job in enumerate(self.jobs) if i not in skip]


class WorkerPool(Generic[J, O]):
    """Run GROUPS of jobs, at most WIDTH worker processes at a time, under MEMORY_LIMIT bytes together."""

    def __init__(
        self,
        groups: list[list[J]],
        width: int,
        memory_limit: int | None,
        run_one: Callable[[J], O],
        failed: Callable[[J, str], O],
    ) -> None:
        self.pending: deque[list[J]] = deque(g for g in groups if g)
        self.width, self.memory_limit = width, memory_limit
        self.run_one, self.failed = run_one, failed
        self.active: list[_Worker[J]] = []
        self._context = multiprocessing.get_context("spawn")

    def run(self, on_outcome: Callable[[O], None]) -> None:
        while self.pending or self.active:
            while self.pending and len(self.active) < self.width:
                self._start(self.pending.popleft())
            checkpoint()
            for conn in wait([w.conn for w in self.active], timeout=POLL_S):
                self._receive(next(w for w in self.active if w.conn is conn), on_outcome)
            if self.memory_limit is not None:
                self._enforce_limit(on_outcome)
        checkpoint()

    def stop(self) -> None:
        """Stop every worker still running (Ctrl-C, or an error in the parent)."""
        for worker in self.active:
            if worker.process.is_alive():
                _kill_tree(worker.process, signal.SIGTERM)
        for worker in self.active:
            worker.process.join(timeout=30)
            worker.conn.close()
        self.active.clear()

    def _start(self, jobs: list[J]) -> None:
        parent, child = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_worker_main, args=(child, self.run_one, jobs), daemon=True)
        process.start()
        child.close()  # the parent keeps only its end: EOF then means the worker has gone
        self.active.append(_Worker(process, parent, jobs))

    def _receive(self, worker: _Worker[J], on_outcome: Callable[[O], None]) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._ended(worker, on_outcome)
            return
        if message[0] == "start":
            worker.current = message[1]
        else:
            worker.finished.add(message[1])
            worker.current = None
            on_outcome(message[2])

    def _ended(self, worker: _Worker[J], on_outcome: Callable[[O], None]) -> None:
        worker.process.join(timeout=30)
        self._retire(worker)
        if worker.current is None and not worker.remaining(after_current=False):
            return  # finished its jobs and exited
        code = worker.process.exitcode
        why = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit status {code}"
        self._fail_current(worker, f"the conversion process died ({why})", on_outcome)

    def _enforce_limit(self, on_outcome: Callable[[O], None]) -> None:
        limit = self.memory_limit
        assert limit is not None
        usage = {id(w): tree_resident_bytes(w.process.pid or 0) or 0 for w in self.active}
        total = sum(usage.values())
        if total <= limit or not self.active:
            return
        worker = max(self.active, key=lambda w: usage[id(w)])
        while worker.conn.poll():  # a result that arrived meanwhile still counts
            self._receive(worker, on_outcome)
            if worker not in self.active:
                return
        _kill_tree(worker.process)
        worker.process.join(timeout=30)
        self._retire(worker)
        together = f" (all conversion processes: {format_bytes(total)})" if len(usage) > 1 else ""
        message = (
            f"conversion stopped: its process used {format_bytes(usage[id(worker)])}{together}, over the "
            f"memory limit of {format_bytes(limit)} (convert.memory_limit); {LIMIT_HINT}"
        )
        self._fail_current(worker, message, on_outcome)

    def _fail_current(self, worker: _Worker[J], message: str, on_outcome: Callable[[O], None]) -> None:
        unfinished = set(range(len(worker.jobs))) - worker.finished
        if not unfinished:
            return  # it had finished every job and was on its way out
        if worker.current is None:  # stopped before its next job began: that job takes the blame, so
            worker.current = min(unfinished)  # that a fresh worker for the rest always progresses
        on_outcome(self.failed(worker.jobs[worker.current], message))
        rest = worker.remaining(after_current=True)
        if rest:
            self.pending.appendleft(rest)  # the format's other jobs go on in a fresh worker

    def _retire(self, worker: _Worker[J]) -> None:
        self.active.remove(worker)
        worker.conn.close()


def _kill_tree(process: multiprocessing.process.BaseProcess, sig: int = signal.SIGKILL) -> None:
    """Signal a worker and every process it started (a converter's helper process would outlive it)."""
    pid = process.pid
    if pid is None:
        return
    for child in [*reversed(descendants(pid)), pid]:
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            pass
