"""Ctrl-C while both parallel conversion workers are converting, beside two CPU hogs.

The interrupt is sent when each worker's staging folder exists (both are mid-conversion), not
after a sleep. The parent must stop its workers at once: the second TFLite job never starts, no
worker outlives the call, and every artifact folder left is complete. Marked `slow` (two spawned
workers import TensorFlow on a loaded machine).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from edgekit.artifact import ARTIFACT_JSON
from edgekit.convert.runner import ConvertJob, run_jobs
from edgekit.fsutil import remove_stale_temporaries
from edgekit.interrupt import interruptible

pytestmark = pytest.mark.slow


def test_ctrl_c_while_both_workers_convert_stops_them(tiny_reference, tiny_calibration, tmp_path, cpu_hogs):
    out = tmp_path / "artifacts"
    out.mkdir()
    jobs = [
        ConvertJob("tflite", "fp32", tiny_reference, out / "tflite-fp32"),
        ConvertJob("tflite", "int8", tiny_reference, out / "tflite-int8", calibration=tiny_calibration),
        ConvertJob("onnx", "fp32", tiny_reference, out / "onnx-fp32"),
    ]
    both_converting, done = threading.Event(), threading.Event()

    def ctrl_c_when_both_convert():
        # Each worker's first job stages into .<name>.*.tmp beside its final folder (atomic_dir).
        while not done.is_set():
            if list(out.glob(".tflite-fp32.*")) and list(out.glob(".onnx-fp32.*")):
                both_converting.set()
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=ctrl_c_when_both_convert, daemon=True)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt), interruptible():
            run_jobs(jobs, parallel=True, on_outcome=lambda outcome: None)
    finally:
        done.set()
        watcher.join(10)
    assert both_converting.is_set()
    assert multiprocessing.active_children() == []
    assert not (out / "tflite-int8").exists()  # the TFLite worker was stopped before its second job
    remove_stale_temporaries(out)
    for folder in out.iterdir():
        assert (folder / ARTIFACT_JSON).is_file(), f"{folder.name} is half-written"
