"""Ctrl-C during a measurement stops the measuring process too, under load.

The worker runs in its own session (so a timeout can kill its whole process group), which also
means a terminal's Ctrl-C never reaches it: the parent must stop it, or it keeps measuring after
the run has ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest

from edgekit.bench import runner
from edgekit.bench.measure import Protocol
from edgekit.bench.targets import BenchTarget
from edgekit.interrupt import interruptible


def test_ctrl_c_during_a_measurement_stops_the_worker(tflite_artifact, monkeypatch, cpu_hogs):
    started: list[subprocess.Popen] = []
    waiting = threading.Event()
    popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = popen(*args, **kwargs)
        started.append(proc)
        communicate = proc.communicate

        def waiting_communicate(*a, **k):
            waiting.set()  # the parent now waits for the worker: a Ctrl-C lands in this wait
            return communicate(*a, **k)

        proc.communicate = waiting_communicate  # type: ignore[method-assign]
        return proc

    def ctrl_c():
        if waiting.wait(120):
            os.kill(os.getpid(), signal.SIGINT)  # what a terminal's Ctrl-C does to the parent

    monkeypatch.setattr(runner.subprocess, "Popen", recording_popen)
    target = BenchTarget("artifact-dir", tflite_artifact.folder, "tflite")
    long = Protocol(warmup_runs=1, min_runs=1, min_time_s=600.0, max_runs=10**12)  # ten minutes
    threading.Thread(target=ctrl_c, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt), interruptible():
            runner.bench_target(target, long, timeout_s=900)
        [worker] = started
        assert worker.wait(timeout=60) is not None  # stopped, not left measuring for ten minutes
        assert worker.returncode < 0  # by a signal from the parent, not by finishing
    finally:
        for proc in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
