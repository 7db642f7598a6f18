"""`edgekit doctor`: what this installation can do right now, and the command that fixes each gap."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from edgekit import __version__
from edgekit.doctor.probe import (
    CORE_MODULES,
    Probe,
    module_available,
    probe,
    probe_all,
    probe_modules,
)
from edgekit.fsutil import tree_size
from edgekit.paths import cache_root, tools_root
from edgekit.report.rows import human_size
from edgekit.setup.extras import DISTRIBUTION, EXTRAS

GPU_PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    @classmethod
    def of(cls, section: str, name: str, result: Probe) -> Check:
        return cls(section, name, result.ok, result.detail, result.fix)

    def to_dict(self) -> dict:
        return asdict(self)


def run_checks(tf_gpu: bool = True) -> list[Check]:
    return [*_python(), *_extras(), *_tools(), *_formats(), *_runtimes(), *_storage(), *_gpu(tf_gpu)]


def _python() -> list[Check]:
    ok = sys.version_info >= (3, 11)
    try:
        dist = f"{DISTRIBUTION} {metadata.version(DISTRIBUTION)}"
    except metadata.PackageNotFoundError:
        dist = f"{DISTRIBUTION} not installed as a distribution (running from a source tree)"
    return [
        Check(
            "python",
            "python",
            ok,
            f"{platform.python_version()} at {sys.executable} ({platform.system()} {platform.machine()})",
            None if ok else "edgekit needs Python 3.11 or newer",
        ),
        Check(
            "python",
            "edgekit",
            True,
            f"edgekit {__version__} ({dist}) at {Path(__file__).resolve().parents[1]}",
        ),
    ]


def _extras() -> list[Check]:
    core = probe_modules(CORE_MODULES, f'pip install --force-reinstall "{DISTRIBUTION}"')
    return [Check.of("extras", "core", core)] + [Check.of("extras", name, probe(name)) for name in EXTRAS]


def _tools() -> list[Check]:
    return [Check.of("tools", part, probe(part)) for part in ("tfjs", "node", "js-runner", "chromium")]


def _formats() -> list[Check]:
    from edgekit.convert import FORMATS

    checks = []
    for entry in FORMATS:
        plugin = entry.value
        result = probe_all(plugin.requires)
        detail = (
            f"convert {', '.join(plugin.quant_modes)}" if result.ok else f"cannot convert: {result.detail}"
        )
        checks.append(Check("formats", plugin.name, result.ok, detail, result.fix))
    return checks


def _runtimes() -> list[Check]:
    from edgekit.runtimes import RUNTIMES

    checks = []
    for entry in RUNTIMES:
        plugin = entry.value
        result = probe_all(plugin.requires)
        detail = f"runs {', '.join(plugin.formats)}: {result.detail}"
        checks.append(Check("runtimes", plugin.name, result.ok, detail, result.fix))
    return checks


def _storage() -> list[Check]:
    checks = []
    for name, folder, env in (
        ("cache", cache_root(), "EDGEKIT_CACHE"),
        ("tools", tools_root(), "EDGEKIT_TOOLS"),
    ):
        size = tree_size(folder) if folder.is_dir() else 0
        checks.append(Check("storage", name, True, f"{folder} ({human_size(size)}; set {env} to move it)"))
    return checks


def _gpu(tf_gpu: bool) -> list[Check]:
    smi = shutil.which("nvidia-smi")
    devices = sorted(str(p) for p in Path("/dev").glob("nvidia[0-9]*")) if Path("/dev").is_dir() else []
    if smi:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
        driver = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        checks = [
            Check("gpu", "driver", proc.returncode == 0, "; ".join(driver) or "nvidia-smi printed nothing")
        ]
    else:
        checks = [
            Check(
                "gpu",
                "driver",
                True,
                f"no nvidia-smi; {len(devices)} /dev/nvidia* device(s): training runs on the CPU",
            )
        ]
    if tf_gpu and module_available("tensorflow"):
        checks.append(_tensorflow_gpus())
    return checks


def _tensorflow_gpus() -> Check:
    """TensorFlow's own view, in a child process: importing TF here would cost seconds and memory."""
    code = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=GPU_PROBE_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check(
            "gpu", "tensorflow", False, f"importing TensorFlow took over {GPU_PROBE_TIMEOUT_S:.0f} s"
        )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].isdigit():
        return Check("gpu", "tensorflow", False, f"TensorFlow failed to start: {proc.stderr.strip()[-300:]}")
    count = int(lines[-1])
    return Check(
        "gpu",
        "tensorflow",
        True,
        f"TensorFlow sees {count} GPU(s)" + ("" if count else ": fine-tuning runs on the CPU"),
    )
