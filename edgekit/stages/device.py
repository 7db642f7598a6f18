"""The device step (`convert --device`): the artifacts measured on the user's devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgekit.matrix import Row
from edgekit.results import BenchResult
from edgekit.steps import progress

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext


def device_bench_step(ctx: RunContext, rows: list[Row]) -> None:
    """`convert --device`: the same artifacts measured on the user's devices (edgekit/devices).
    A device that cannot be reached or drops stops the run (DeviceConnectionError): no device
    result of this run is kept."""
    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.convert import FORMATS
    from edgekit.devices.remote import bench_devices

    b = ctx.recipe.bench
    protocol = Protocol(
        threads=ctx.threads, warmup_runs=b.warmup_runs, min_runs=b.min_runs, min_time_s=b.min_time_s
    )
    ok = [
        r for r in rows if r.status == "ok" and FORMATS.get(r.format).on_devices
    ]  # TF.js runs in Node or a browser
    targets = [
        BenchTarget("artifact-dir", r.artifact.folder, r.format, ctx.run_dir / "reference") for r in ok
    ]
    names = ", ".join(d.name for d in ctx.devices)
    with ctx.steps.step(
        "device", f"{names}, {ctx.threads} thread(s), one artifact at a time per device"
    ) as note:
        results = bench_devices(ctx.devices, targets, protocol)
        by_folder: dict[str, list[dict]] = {}
        for result in results:
            by_folder.setdefault(result["artifact"]["path"], []).append(result)
        for row in ok:
            row.device = [
                BenchResult.from_dict(r) for r in by_folder.get(str(row.artifact.folder.resolve()), [])
            ]
            for r in row.device:
                if not r.ok:
                    progress(f"[red]device bench failed[/] {row.name} on {r.device}: {r.error}")
        measured = sum(r["status"] == "ok" for r in results)
        note(f"{measured} of {len(results)} measurement(s) on {names}")
