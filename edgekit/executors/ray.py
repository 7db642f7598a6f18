"""`convert --executor ray`: the matrix cells of a run as tasks on a Ray cluster.

Conversions: one task per (format, quant) cell, each in a Ray worker process of its own that
exits after the task (max_calls=1), as the local runner gives each format its own process. The
reference goes to the object store once per convert step; each task sends its artifact folder
back as bytes, and this process writes it into the run folder.

Bench: a target T's cells go to the node that advertises the custom resource `device:T` (a
Raspberry Pi started with `ray start --address=HEAD --num-cpus=0 --resources='{"device:rpi4": 1}'`
measures the rpi4 cells itself); one unit of that resource means one measurement at a time there.
When no node advertises it, the cells run one after another on any node with a free CPU. Every
result records the node that measured it (`node`: id, hostname, address, and the resource used).

Training, parity, estimates and the report stay in the `edgekit convert` process, which alone
writes the run folder: the nodes need no shared storage, only the same edgekit version.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgekit.bench.measure import Protocol
from edgekit.bench.result import failed_result
from edgekit.bench.runner import DEFAULT_TIMEOUT_S
from edgekit.convert.runner import ConvertJob, JobOutcome
from edgekit.errors import UsageError
from edgekit.executors import ray_tasks as tasks
from edgekit.executors.base import BenchCell
from edgekit.executors.errors import ClusterError
from edgekit.executors.payload import pack, pack_folder, unpack
from edgekit.fsutil import atomic_dir
from edgekit.interrupt import checkpoint
from edgekit.steps import progress

DEVICE_RESOURCE = "device:{}"
PROBE_TIMEOUT_S = 5.0
# the measurement's own limit (edgekit/bench/runner.py) plus the transfer and the worker's start
BENCH_TASK_TIMEOUT_S = DEFAULT_TIMEOUT_S + 120.0


class RayExecutor:
    name = "ray"

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        # max_calls=1: the worker process exits after one conversion, so no TensorFlow state
        # (graphs, converter caches, thread pools) carries from one cell to the next.
        # max_retries=0: a task whose worker or node died is a failed row, as in a local run (Ray
        # would run a crashing converter three more times, or wait for a device that is gone).
        self._convert = ray.remote(max_calls=1, max_retries=0)(tasks.convert_cell)
        self._bench = ray.remote(max_retries=0)(tasks.bench_cell)

    @classmethod
    def connect(cls, address: str | None) -> RayExecutor:
        """Join the cluster at ADDRESS (host:port of the head's GCS); None: RAY_ADDRESS, else a
        cluster started on this machine with `ray start`, else a new one for this run only."""
        from edgekit.setup.extras import require_extra

        require_extra("ray", "edgekit convert --executor ray")
        import ray

        if address is not None:
            _probe(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as exc:  # ConnectionError, version mismatch, a head that went away
            raise ClusterError(
                f"could not join the Ray cluster at {address or 'RAY_ADDRESS / this machine'}: "
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                hint="check `ray status` on the head; every node needs the same Ray, Python and edgekit versions",
            ) from None
        resources = ray.cluster_resources()
        devices = sorted(k for k in resources if k.startswith(DEVICE_RESOURCE.format("")))
        progress(
            f"Ray cluster: {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPU(s)"
            + (f", device resources {', '.join(devices)}" if devices else "")
        )
        return cls(ray)

    # --- conversions ------------------------------------------------------------------------

    def convert(
        self,
        jobs: list[ConvertJob],
        parallel: bool,
        on_outcome: Callable[[JobOutcome], None],
        memory_limit: int | None = None,
    ) -> None:
        ray = self._ray
        references: dict[Path, Any] = {}  # one object per reference folder (a run has one)
        pending: dict[Any, ConvertJob] = {}
        try:
            for job in jobs:
                if job.reference not in references:
                    references[job.reference] = ray.put(pack_folder(job.reference))
                ref = self._convert.remote(
                    references[job.reference],
                    job.format,
                    job.quant,
                    job.options,
                    job.calibration,
                    job.metadata,
                    memory_limit,  # on the node that converts: its conversion process's limit
                )
                pending[ref] = job
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready)
                on_outcome(self._conversion_outcome(job, ready))
                checkpoint()
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise

    def _conversion_outcome(self, job: ConvertJob, ref: Any) -> JobOutcome:
        from edgekit.artifact import Artifact

        try:
            reply = self._ray.get(ref)
        except Exception as exc:  # the task's worker died (out of memory, a crashing converter), a node left
            return JobOutcome(job, error=f"the Ray task failed: {_first_line(exc)}")
        node = reply["node"]
        progress(f"{job.format}-{job.quant}: Ray task on node {node['id'][:12]} ({node['hostname']})")
        if (mismatch := _version_mismatch(node)) is not None:
            return JobOutcome(job, error=mismatch)
        measured = {"seconds": reply.get("seconds"), "peak_rss_bytes": reply.get("peak_rss_bytes")}
        if reply["folder"] is None:
            return JobOutcome(job, error=reply["error"], trace=reply["trace"], **measured)
        with atomic_dir(job.final) as tmp:
            unpack(reply["folder"], tmp)
        return JobOutcome(job, artifact=Artifact.load(job.final), **measured)

    # --- measurements -----------------------------------------------------------------------

    def bench(self, device: str, cells: list[BenchCell], protocol: Protocol) -> Iterator[dict]:
        resource = DEVICE_RESOURCE.format(device)
        pinned = self._ray.cluster_resources().get(resource, 0) >= 1
        if pinned:
            progress(f"{device}: measured on the node that advertises {resource}")
            # the resource admits one task at a time, so all cells can be handed over at once
            options: dict[str, Any] = {"num_cpus": 0, "resources": {resource: 1}}
            refs = [self._submit_bench(cell, protocol, options) for cell in cells]
            for cell, ref in zip(cells, refs):
                yield self._bench_result(cell, protocol, ref, resource)
            return
        progress(f"{device}: no node advertises {resource}; measured on any node, one at a time")
        for cell in cells:  # one at a time: two measurements on one node would disturb each other
            ref = self._submit_bench(cell, protocol, {"num_cpus": 1})
            yield self._bench_result(cell, protocol, ref, None)

    def _submit_bench(self, cell: BenchCell, protocol: Protocol, options: dict[str, Any]) -> Any:
        target = cell.target
        entries = {f"{tasks.ARTIFACTS}/{target.path.name}": target.path}
        if target.reference is not None:  # its files: bench inputs and preprocessing, not the SavedModel
            entries |= {
                f"{tasks.REFERENCE}/{p.name}": p for p in sorted(target.reference.iterdir()) if p.is_file()
            }
        return self._bench.options(**options).remote(
            pack(entries), target.path.name, target.format, cell.runtime, protocol
        )

    def _bench_result(self, cell: BenchCell, protocol: Protocol, ref: Any, resource: str | None) -> dict:
        try:
            # a pinned cell whose device left the cluster would wait for it forever
            reply = self._ray.get(ref, timeout=BENCH_TASK_TIMEOUT_S)
        except Exception as exc:
            self._ray.cancel(ref, force=True)
            return failed_result(
                cell.target.label,
                cell.target.to_request(),
                protocol.to_dict(),
                cell.runtime,
                f"the Ray task failed: {_first_line(exc)}",
            )
        result = reply["result"]
        if (mismatch := _version_mismatch(reply["node"])) is not None:
            return failed_result(
                cell.target.label, cell.target.to_request(), protocol.to_dict(), cell.runtime, mismatch
            )
        # the paths of this run folder, as a local measurement reports them
        here, there = (
            str(cell.target.path.resolve()),
            f"{reply['root']}/{tasks.ARTIFACTS}/{cell.target.path.name}",
        )
        artifact = result.get("artifact") or {}
        if isinstance(artifact.get("path"), str) and artifact["path"].startswith(there):
            artifact["path"] = here + artifact["path"][len(there) :]
        node = {k: v for k, v in reply["node"].items() if k != "edgekit"}
        result["node"] = {**node, "resource": resource}
        return result

    def close(self) -> None:
        self._ray.shutdown()


def _version_mismatch(node: dict[str, Any]) -> str | None:
    from edgekit import __version__

    if node.get("edgekit") == __version__:
        return None
    return (
        f"node {node.get('hostname')} ({str(node.get('id'))[:12]}) runs edgekit {node.get('edgekit')}, "
        f"this run {__version__}: install the same edgekit version on every node"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}"


def _probe(address: str) -> None:
    """A clear error in seconds for an address nothing listens on (ray.init would wait a minute)."""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://") or address == "auto":
        return
    if not sep or not host or not port.isdigit():
        raise UsageError(
            f"--ray-address must be HOST:PORT of the Ray head (its GCS port, 6379 by default), got {address!r}",
            hint="the address `ray start --head` printed, e.g. --ray-address 10.0.0.5:6379",
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(
            f"no Ray head answers at {address}: {exc.strerror or exc}",
            hint="start one with `ray start --head --port=PORT` on that machine, or fix --ray-address",
        ) from None
