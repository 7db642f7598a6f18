"""Ctrl-C stops `edgekit convert` in every step, even when the step swallowed the interrupt.

CPython loses a KeyboardInterrupt raised inside a finalizer (TensorFlow and LiteRT objects run
many at arbitrary points); a run once went on through every step and exited 0. Here each step in
turn ends with exactly that: a finalizer that receives the Ctrl-C and loses it. The run must still
stop at the next checkpoint with exit 130, leave no temporary behind and write no new report.
Two busy processes run beside it: stopping must not need an idle machine.

Marked `slow`: one full tiny run, then one rerun per step (the reruns reuse its cached steps).
"""

from __future__ import annotations

import os
import signal

import pytest
from demo_settings import tiny_demo

from edgekit import stages
from edgekit.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

TINY = tiny_demo(epochs=2)
STEPS = [
    "resolve_source_step",
    "data_step",
    "train_step",
    "convert_step",
    "parity_step",
    "bench_step",
    "estimate_step",
    "report_step",
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    cache, out = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("out")
    old = os.environ.get("EDGEKIT_CACHE")
    os.environ["EDGEKIT_CACHE"] = str(cache)
    try:
        assert main(["convert", "--target", "rpi", "--out", str(out), *TINY]) == 0
        yield out
    finally:
        if old is None:
            os.environ.pop("EDGEKIT_CACHE", None)
        else:
            os.environ["EDGEKIT_CACHE"] = old


class _LosesCtrlC:
    """A finalizer that is running when Ctrl-C arrives: the KeyboardInterrupt raised in it is lost."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs here, its exception is printed and dropped
            pass


@pytest.mark.parametrize("step", STEPS)
def test_ctrl_c_lost_inside_a_step_still_stops_the_run(step, finished_run, monkeypatch, cpu_hogs, capsys):
    real = getattr(stages, step)
    reached = []

    def step_that_loses_ctrl_c(*args, **kwargs):
        result = real(*args, **kwargs)
        reached.append(step)
        _LosesCtrlC()  # dropped at once: its __del__ swallows the interrupt
        return result

    monkeypatch.setattr(stages, step, step_that_loses_ctrl_c)
    report = finished_run / "demo" / "rpi4" / "report.json"
    before = report.read_bytes()
    rc = main(["convert", "--target", "rpi", "--out", str(finished_run), *TINY])
    assert reached == [step]
    assert rc == 130, capsys.readouterr().err[-3000:]
    assert [p for p in finished_run.rglob("*") if p.name.endswith(".tmp")] == []
    if step != "report_step":  # the report step itself completes its (atomic) write before the stop
        assert report.read_bytes() == before
