"""Busy processes beside a timing-sensitive test: interruption and measurement code must work on a
loaded machine, not only on an idle one."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


def start_cpu_hogs(count: int = 2) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]


def stop_cpu_hogs(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        hog.kill()
        hog.wait()


@contextlib.contextmanager
def cpu_hogs_running(count: int = 2) -> Iterator[int]:
    hogs = start_cpu_hogs(count)
    try:
        yield count
    finally:
        stop_cpu_hogs(hogs)
