"""Jobs for WorkerPool tests; a module of their own so that spawned workers can import them."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np


def run(job: tuple) -> str:
    """Job (NAME, MIB[, PATH]): hold MIB of touched memory; 'stuck' jobs then wait until they are
    killed, 'held' jobs until the file PATH exists; 'child' jobs start a process that writes its pid
    to PATH, then holds the memory, and wait for it."""
    name, mib = job[:2]
    if name.startswith("child"):
        return _child_holds(mib, Path(job[2]))
    block = np.ones(mib * 1024 * 1024, dtype=np.uint8)  # np.ones writes every page: resident at once
    if name.startswith("stuck"):
        threading.Event().wait()  # never set: only the memory limit ends this job
    while name.startswith("held") and not Path(job[2]).exists():
        time.sleep(0.01)  # the test creates RELEASE once it has seen what it waits for
    if name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return f"{name} ok ({block.nbytes >> 20} MiB)"


def failed(job: tuple, message: str) -> str:
    return f"{job[0]} failed: {message}"


def _child_holds(mib: int, pid_file: Path) -> str:
    import subprocess
    import sys

    # the child writes its pid before it allocates: only the allocation takes the worker over the limit
    hold = (
        f"import numpy, os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); "
        f"b = numpy.ones({mib} << 20, numpy.uint8); time.sleep(120)"
    )
    # the limit ends this job at the allocation; without it, the job would end in 120 s, unkilled
    child = subprocess.Popen([sys.executable, "-c", hold])
    child.wait()
    return "child ended"
