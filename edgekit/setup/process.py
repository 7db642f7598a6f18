"""Run one installer command of `edgekit setup` (pip, uv, npm) and turn its failure into SetupError."""

from __future__ import annotations

import subprocess
from pathlib import Path

from edgekit.errors import SetupError


def run_setup_command(
    cmd: list[str], what: str, timeout_s: float, hint: str, cwd: Path | None = None
) -> None:
    """Run CMD; a timeout or a non-zero exit is a SetupError naming WHAT and the end of its output."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"{what} took over {timeout_s:.0f} s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise SetupError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}", hint=hint)
