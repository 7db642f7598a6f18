"""`edgekit targets calibrate --device`: measure the calibration suite on the device at 1..N
threads and hand the results to the same fit as `targets calibrate bench.json` (targets/calibration/calibrate.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from edgekit.bench.measure import Protocol
from edgekit.bench.targets import BenchTarget
from edgekit.devices.remote import bench_device
from edgekit.devices.spec import DeviceSpec
from edgekit.errors import UsageError
from edgekit.fsutil import atomic_write_text

RUNTIME = "litert"  # the latency model is fitted for LiteRT (XNNPACK) on TFLite artifacts


def measure_suite(
    spec: DeviceSpec,
    folders: list[Path],
    threads: list[int],
    protocol: Protocol,
    timeout_s: float,
    on_result: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Every suite artifact at every thread count on SPEC, one at a time."""
    targets = [BenchTarget("artifact-dir", f, "tflite") for f in folders]
    results = []
    for n in threads:
        proto = Protocol(
            threads=n,
            warmup_runs=protocol.warmup_runs,
            min_runs=protocol.min_runs,
            min_time_s=protocol.min_time_s,
        )
        for r in bench_device(spec, targets, proto, RUNTIME, timeout_s):
            r["label"] = f"{Path(r['artifact']['path']).parent.name}/{r['label']}"  # model/tflite-int8
            results.append(r)
            if on_result is not None:
                on_result(r)
    return results


def usable(results: list[dict]) -> tuple[list[dict], list[str]]:
    """The results a fit may use, and why each other one was left out (failed, too few runs, throttled)."""
    kept, dropped = [], []
    for r in results:
        if r["status"] != "ok" or r["validity"] in ("INVALID", "UNTRUSTED"):
            why = r["error"] if r["status"] != "ok" else "; ".join(r["validity_reasons"]) or r["validity"]
            dropped.append(f"{r['label']} at {r['runtime']['threads']} thread(s): {r['validity']}: {why}")
        else:
            kept.append(r)
    return kept, dropped


def write_results(results: list[dict], path: Path) -> Path:
    """The measurements the profile was fitted on, as `edgekit bench --json` writes them: a later
    `edgekit targets calibrate PATH` refits without measuring again."""
    return atomic_write_text(path, json.dumps({"schema_version": 1, "results": results}, indent=1))


def thread_counts(max_threads: int | None, spec_cores: int | None) -> list[int]:
    top = max_threads or spec_cores or 1
    if top < 1:
        raise UsageError(f"--threads must be at least 1, got {top}")
    return list(range(1, top + 1))


def calibrate_on_device(
    device: str,
    name: str,
    base: str | None,
    max_threads: int | None,
    out: Path,
    timeout_s: float,
    progress: Callable[[str], None],
):
    """Build (or reuse) the suite, measure it on DEVICE, fit a profile NAME on BASE; writes OUT and
    OUT's .bench.json. Returns the CalibrationResult, the results file, the lines saying what was
    left out, and the base profile's name."""
    from edgekit.devices.spec import resolve_device
    from edgekit.devices.suite import build_suite
    from edgekit.setup.extras import require_extra
    from edgekit.targets.calibration.bench_input import parse_bench_json
    from edgekit.targets.calibration.calibrate import calibrate, write_profile
    from edgekit.targets.profile import resolve_target

    spec = resolve_device(device)
    profile = resolve_target(base or spec.profile or "host")
    threads = thread_counts(max_threads, profile.hardware.cores)
    require_extra("tf", "edgekit targets calibrate --device (it converts the calibration suite on this host)")
    folders = build_suite(progress=progress)
    progress(
        f"measuring {len(folders)} artifacts at {', '.join(map(str, threads))} thread(s) on {spec.name} ({spec.uri})"
    )
    results = measure_suite(
        spec,
        folders,
        threads,
        Protocol(),
        timeout_s,
        on_result=lambda r: progress(
            f"{r['label']} x{r['runtime']['threads']}: "
            + (
                f"p50 {r['p50_ms']:.3f} ms, {r['validity']}"
                if r["status"] == "ok"
                else f"failed: {r['error']}"
            )
        ),
    )
    kept, dropped = usable(results)
    bench_path = write_results(kept, out.with_suffix(".bench.json"))
    result = calibrate(parse_bench_json(bench_path), profile, name)
    fitted = result.profile.calibration.fitted
    assert fitted is not None, "calibrate() always records the factors it fitted"
    fitted["device"] = {**spec.describe(), "left_out": dropped}
    write_profile(result.profile, out)
    return result, bench_path, dropped, profile.name
