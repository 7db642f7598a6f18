"""The bench step: each artifact's latency measured on this host, one process per artifact."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgekit import __version__
from edgekit.matrix import Row
from edgekit.results import BenchResult
from edgekit.stages.common import _host_runtime
from edgekit.steps import input_key, progress

if TYPE_CHECKING:
    from edgekit.bench.measure import Protocol
    from edgekit.pipeline import RunContext
    from edgekit.stages.data import PreparedData


def bench_step(ctx: RunContext, data: PreparedData, rows: list[Row]) -> None:
    import io

    from edgekit.bench.inputs import BENCH_INPUTS
    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.executors import BenchCell
    from edgekit.fsutil import atomic_write_bytes

    b = ctx.recipe.bench
    protocol = Protocol(
        threads=ctx.threads, warmup_runs=b.warmup_runs, min_runs=b.min_runs, min_time_s=b.min_time_s
    )
    reference = ctx.run_dir / "reference"
    inputs_key = input_key(data.fingerprint, data.preproc, data.test_count)
    if not ctx.steps.is_done("bench-inputs", inputs_key, [reference / BENCH_INPUTS]):
        buf = io.BytesIO()
        np.save(buf, data.x_test[:8])  # real held-out inputs for every later `edgekit bench <run dir>`
        atomic_write_bytes(reference / BENCH_INPUTS, buf.getvalue())
        ctx.steps.mark_done("bench-inputs", inputs_key)
    ok = [r for r in rows if r.status == "ok"]
    with ctx.steps.step("bench", f"host, {ctx.threads} thread(s), one process per artifact") as note:
        keys = _bench_keys(ctx, ok, protocol)
        todo = [r for r in ok if not _reuse_bench(ctx, r, keys[r.name])]
        cells = [
            BenchCell(
                BenchTarget("artifact-dir", row.artifact.folder, row.format, reference),
                _host_runtime(ctx.profile, row.format),
            )
            for row in todo
        ]
        for row, result in zip(todo, ctx.executor.bench(ctx.profile.name, cells, protocol)):
            outcome = BenchResult.from_dict(result)
            if outcome.ok:
                row.bench = outcome
                ctx.steps.mark_done(f"bench-{row.name}", keys[row.name], {"bench": result})
            else:
                row.fail(outcome.error or "failed")
                progress(f"[red]bench failed[/] {row.name}: {outcome.error}")
        measured = sum(r.bench is not None for r in todo)
        reused = len(ok) - len(todo)
        note(
            f"{measured} of {len(todo)} artifact(s) measured, {ctx.threads} thread(s)"
            + (f"; {reused} unchanged, reused (--remeasure measures again)" if reused else "")
        )


def _bench_keys(ctx: RunContext, rows: list[Row], protocol: Protocol) -> dict[str, str]:
    """Everything a host measurement depends on: the artifact, its runtime, the protocol, the threads,
    and the machine (its hardware and runtime versions, not its momentary clock or load)."""
    import platform
    from dataclasses import asdict

    from edgekit.bench.host import host_fingerprint

    machine = {k: v for k, v in host_fingerprint().items() if k not in ("cpu_mhz", "load_avg")}
    return {
        row.name: input_key(
            row.artifact.sha256 if row.artifact else None,
            row.format,
            _host_runtime(ctx.profile, row.format),
            asdict(protocol),
            ctx.threads,
            machine,
            platform.node(),
            ctx.executor.name,
            __version__,
        )
        for row in rows
    }


def _reuse_bench(ctx: RunContext, row: Row, key: str) -> bool:
    record = ctx.steps.recorded(f"bench-{row.name}", key)
    if record is None or not isinstance(record.get("bench"), dict):
        return False
    try:
        row.bench = BenchResult.from_dict(record["bench"])
    except (KeyError, TypeError, ValueError):  # recorded by another version: measured again
        return False
    return row.bench.ok
