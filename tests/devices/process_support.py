"""Whether a device-side process (a local one, for the stand-in devices) is still running."""

from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def ended(pid: int, within_s: float = 30.0) -> bool:
    """SIGKILL is delivered asynchronously: wait (bounded) for the process to be gone or a zombie."""
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
