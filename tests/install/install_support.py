"""Helpers for the packaging tests: run commands outside the development environment, make venvs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(
    cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess:
    """Run CMD; the clean environment keeps the development venv and the checkout out of it."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")
    }
    clean["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (
        f"{proc.args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def base_python() -> str:
    """The interpreter the development venv was made from: a venv made from a venv nests oddly."""
    return getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable


def make_venv(folder: Path) -> Path:
    ok(run([base_python(), "-m", "venv", folder]))
    return folder / "bin"


FIGURES_FILE = REPO / "docs" / "snippets" / "install-figures.md"
_FIGURES: dict[str, dict[str, str]] = {}


def record(install: str, **figures: str) -> None:
    """Keep a measured figure for the install page (written at the end with EDGEKIT_RECORD_FIGURES=1)."""
    _FIGURES.setdefault(install, {}).update(figures)
    print(f"\n{install}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


def folder_mb(folder: Path) -> str:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return f"{total / 1e6:.0f} MB"


def pip_install(bin_dir: Path, *requirements: str) -> float:
    """Install with the environment's own pip; returns the seconds it took."""
    started = time.perf_counter()
    ok(
        run(
            [
                bin_dir / "python",
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                *requirements,
            ]
        )
    )
    return time.perf_counter() - started
