"""Jobs for WorkerPool tests; a module of their own so that spawned workers can import them."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np


def run(job: tuple) -> str:
    """Job (NAME, MIB[, RELEASE]): hold MIB of touched memory; 'stuck' jobs then wait until they are
    killed, 'held' jobs until the file RELEASE exists."""
    name, mib = job[:2]
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
