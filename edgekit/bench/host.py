"""The host fingerprint recorded with every measurement: results are only comparable with it."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

RUNTIME_PACKAGES = ("tensorflow", "ai-edge-litert", "onnxruntime", "tensorflowjs", "tf2onnx", "onnx", "numpy")
# Variables that change how many threads a runtime really uses, whatever it was asked for.
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "ORT_NUM_THREADS",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _versions() -> dict[str, str]:
    out = {}
    for name in RUNTIME_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def host_fingerprint() -> dict:
    freq = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_mhz": round(int(freq) / 1000) if freq and freq.isdigit() else None,
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": _versions(),
        "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "load_avg": _load_average(),
    }


def _load_average() -> list[float] | None:
    # A busy machine explains an UNSTABLE verdict; record how busy it was.
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None
