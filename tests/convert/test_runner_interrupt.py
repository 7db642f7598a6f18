"""Ctrl-C during parallel conversion: the parent stops its worker processes at once and raises;
every artifact folder left behind is complete (the unfinished ones are temporaries to sweep)."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from edgekit.artifact import ARTIFACT_JSON
from edgekit.convert.runner import ConvertJob, run_jobs
from edgekit.fsutil import remove_stale_temporaries
from edgekit.interrupt import checkpoint, interruptible


def test_ctrl_c_during_parallel_conversion_stops_the_workers(tiny_reference, tiny_calibration, tmp_path):
    out = tmp_path / "artifacts"
    out.mkdir()
    jobs = [
        ConvertJob("tflite", "fp32", tiny_reference, out / "tflite-fp32"),
        ConvertJob("tflite", "int8", tiny_reference, out / "tflite-int8", calibration=tiny_calibration),
        ConvertJob("onnx", "fp32", tiny_reference, out / "onnx-fp32"),
    ]
    seen = []

    def first_group_done(outcome):
        seen.append(outcome.job.format)
        os.kill(os.getpid(), signal.SIGINT)  # what a terminal's Ctrl-C does to the parent

    with pytest.raises(KeyboardInterrupt), interruptible():
        run_jobs(jobs, parallel=True, on_outcome=first_group_done)
    assert len(seen) == 1 or len(set(seen)) == 1  # no outcome of the other group was waited for
    assert multiprocessing.active_children() == []  # no worker keeps converting after the run ended
    remove_stale_temporaries(out)
    for folder in out.iterdir():
        assert (folder / ARTIFACT_JSON).is_file(), f"{folder.name} is half-written"


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)  # the swallowed one, on purpose
def test_a_swallowed_interrupt_is_raised_at_the_next_checkpoint():
    class Finalizer:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)  # the KeyboardInterrupt raised in here is lost...
            for _ in range(1000):  # ...(Python prints "Exception ignored in ...")
                pass

    with pytest.raises(KeyboardInterrupt), interruptible():
        Finalizer()  # dropped at once: __del__ runs and swallows the interrupt
        checkpoint()  # ...but the run stops here
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_interruptible_leaves_an_ignored_sigint_alone():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interruptible():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
