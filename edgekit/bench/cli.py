"""`edgekit bench`: measure artifacts on this host in their real runtimes. Light imports only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

EPILOG = """Examples:\n\n
  edgekit bench out/demo/rpi4/                          # every artifact of a run, 1 thread\n
  edgekit bench model.tflite --threads 4                # a bare model file, generated inputs\n
  edgekit bench out/demo/host/artifacts/onnx-fp32 --runtime onnxruntime --min-runs 200 --min-time 2\n
  edgekit bench out/demo/browser/ --runtime tfjs-browser --json > bench.json\n
  edgekit bench out/demo/rpi4/ --device ssh://pi@lab-pi4.local --threads 4   # on your device (see docs/devices.md)\n
  edgekit bench model.tflite --device lab-pi4 --device adb:R58M123   # devices.yaml names, measured in parallel\n\n
Each artifact is measured in a fresh process: load, first inference, warm-up, then timed runs until
both --min-runs and --min-time are reached. Exit status 1 when any artifact failed."""


def bench(
    paths: list[Path] = typer.Argument(
        ...,
        help="Run directories (out/<recipe>/<target>/), artifact folders, or .tflite/.onnx/model.json files.",
    ),
    threads: int = typer.Option(
        1, "--threads", min=1, help="Threads the runtime may use (explicit, recorded with the result)."
    ),
    runtime: str | None = typer.Option(
        None,
        "--runtime",
        "-r",
        help="Runtime name (see `edgekit list runtimes`). Default: the format's runtime.",
    ),
    min_runs: int = typer.Option(20, "--min-runs", min=1, help="Timed runs at least."),
    min_time: float = typer.Option(0.5, "--min-time", min=0.0, help="Seconds of timed runs at least."),
    warmup: int = typer.Option(3, "--warmup", min=0, help="Untimed runs after the first inference."),
    timeout: float = typer.Option(
        600.0, "--timeout", min=1.0, help="Seconds before one artifact's measurement is killed."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the results as JSON (schema_version 1) on stdout."
    ),
    devices: list[str] = typer.Option(
        [],
        "--device",
        "-d",
        help="Measure on a device instead of this host: ssh://user@host[:port], adb[:SERIAL] or a devices.yaml name (repeatable: in parallel).",
    ),
) -> None:
    """Benchmark artifacts on this host: latency percentiles, CV, validity, peak RSS, size."""
    from edgekit.bench.measure import Protocol
    from edgekit.bench.runner import bench_paths
    from edgekit.bench.table import print_progress, print_table

    protocol = Protocol(threads=threads, warmup_runs=warmup, min_runs=min_runs, min_time_s=min_time)
    if devices:
        from edgekit.devices.cli import bench_on_devices

        results = bench_on_devices(devices, paths, protocol, runtime, timeout, as_json)
    else:
        results = bench_paths(
            paths, protocol, runtime, timeout, on_result=None if as_json else print_progress
        )
    if as_json:
        typer.echo(json.dumps({"schema_version": 1, "results": results}, indent=2))
    elif not devices:
        print_table(results)
    if any(r["status"] != "ok" for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(bench)
