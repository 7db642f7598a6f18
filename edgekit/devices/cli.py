"""The device half of `edgekit bench --device`: resolve names, measure in parallel, print per device."""

from __future__ import annotations

from pathlib import Path

from edgekit.bench.measure import Protocol
from edgekit.console import console, err_console


def bench_on_devices(
    names: list[str],
    paths: list[Path],
    protocol: Protocol,
    runtime: str | None,
    timeout_s: float,
    as_json: bool,
) -> list[dict]:
    from edgekit.bench.table import print_progress
    from edgekit.bench.targets import expand
    from edgekit.devices.remote import bench_devices, device_formats, format_display, measurable_on_devices
    from edgekit.devices.spec import resolve_device

    specs = [resolve_device(n) for n in names]  # every name checked before anything connects
    targets = expand([Path(p) for p in paths])
    off_device = [t for t in targets if not measurable_on_devices(t.format)]
    if off_device:
        from edgekit.errors import UsageError

        raise UsageError(
            f"{off_device[0].label}: {format_display(off_device[0].format)} models cannot be measured with "
            "--device (the device's Python runtimes do not run them; TF.js runs in Node or a browser)",
            hint=f"measure the run's {' or '.join(device_formats())} artifacts on the device",
        )
    for spec in specs:
        err_console.print(
            f"device {spec.name}: {spec.uri}" + (f" (profile {spec.profile})" if spec.profile else ""),
            highlight=False,
        )
    results = bench_devices(
        specs, targets, protocol, runtime, timeout_s, on_result=None if as_json else _progress(print_progress)
    )
    if not as_json:
        for spec in specs:
            print_device_table(spec.name, [r for r in results if r["device"]["name"] == spec.name])
    return results


def _progress(show):
    def on_result(result: dict) -> None:
        show({**result, "label": f"{result['device']['name']}: {result['label']}"})

    return on_result


def print_device_table(name: str, results: list[dict]) -> None:
    from edgekit.bench.table import print_table

    # The table's "host:" line would describe the device as if it were this host: the device line replaces it.
    print_table(
        [{**r, "host": None} for r in results],
        title=f"benchmark on {name} ({results[0]['device']['uri']})" if results else name,
    )
    fp = next((r["device"]["fingerprint"] for r in results if r["device"].get("fingerprint")), None)
    host = next((r["host"] for r in results if r.get("host")), None) or {}
    if fp:
        packages = host.get("packages") or {}
        runtimes = ", ".join(
            f"{k} {packages[k]}" for k in ("ai-edge-litert", "onnxruntime", "numpy") if k in packages
        )
        extra = f", Python {host['python']}" if host.get("python") else ""
        console.print(
            "device: " + fingerprint_line(fp["before"]) + extra + (f", {runtimes}" if runtimes else ""),
            highlight=False,
        )


def fingerprint_line(fp: dict) -> str:
    parts = [str(fp.get("model") or fp.get("machine")), f"{fp.get('cores')} cores"]
    clocks = sorted({f"{c['mhz']} MHz {c['governor']}" for c in fp.get("cpus", []) if c.get("mhz")})
    if clocks:
        parts.append(" / ".join(clocks))
    temps = fp.get("temperatures_c") or {}
    if temps:
        parts.append(f"{max(temps.values()):.0f} °C")
    if fp.get("throttled") is not None:
        parts.append(f"throttled={fp['throttled']:#x}")
    parts.append(str(fp.get("os_release") or fp.get("os")))
    return ", ".join(parts)
