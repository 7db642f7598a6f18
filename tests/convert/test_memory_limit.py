"""Conversion processes under a memory limit: going over it fails that job with a message naming the
limit, the format's other jobs go on in a fresh worker, and nothing brings the machine down."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import memory_jobs  # noqa: E402 - needs the path above

from edgekit.convert.memory import parse_memory_limit
from edgekit.convert.runner import ConvertJob, run_jobs
from edgekit.convert.workers import WorkerPool
from edgekit.errors import RecipeError, UsageError
from edgekit.recipe import BUNDLED_DEMO, load_recipe

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="the limit reads /proc (Linux)")
MIB = 1024 * 1024


def _run(groups, limit, width=1, then=None) -> list[str]:
    outcomes: list[str] = []

    def seen(outcome: str) -> None:
        outcomes.append(outcome)
        if then is not None:
            then(outcome)

    pool = WorkerPool(groups, width, limit, memory_jobs.run, memory_jobs.failed)
    try:
        pool.run(seen)
    finally:
        pool.stop()
    return outcomes


def test_a_job_over_the_limit_fails_naming_it_and_the_rest_go_on():
    outcomes = _run([[("small", 10), ("stuck", 700), ("after", 10)]], limit=400 * MIB)
    assert outcomes[0] == "small ok (10 MiB)"
    assert outcomes[1].startswith("stuck failed: conversion stopped: its process used ")
    assert "over the memory limit of 400.00 MiB (convert.memory_limit)" in outcomes[1]
    assert "--set convert.memory_limit=" in outcomes[1]  # says how to fix it
    assert outcomes[2] == "after ok (10 MiB)"  # in a fresh worker
    assert multiprocessing.active_children() == []


def _running(pid: int) -> bool:
    """Whether PID is a live process (a killed child may linger as a zombie until it is reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_memory_of_processes_a_worker_starts_counts_and_they_are_stopped_with_it(tmp_path):
    pid_file = tmp_path / "child.pid"
    outcomes = _run([[("child", 600, str(pid_file)), ("after", 10)]], limit=400 * MIB)
    assert outcomes[0].startswith("child failed: conversion stopped: its process used ")
    assert "over the memory limit of 400.00 MiB" in outcomes[0]
    assert outcomes[1] == "after ok (10 MiB)"
    assert not _running(int(pid_file.read_text()))
    assert multiprocessing.active_children() == []


def test_the_limit_counts_the_workers_together(tmp_path):
    # each stays under 400 MiB alone; the two together do not: the larger is stopped, then the other
    # is released (it would otherwise wait forever) and finishes
    release = tmp_path / "release"
    outcomes = _run(
        [[("held-a", 150, str(release))], [("stuck-b", 330)]],
        limit=400 * MIB,
        width=2,
        then=lambda outcome: release.touch(),
    )
    assert outcomes[0].startswith("stuck-b failed: conversion stopped: its process used ")
    assert "(all conversion processes: " in outcomes[0]
    assert outcomes[1] == "held-a ok (150 MiB)"


def test_a_limit_below_an_idle_worker_fails_every_job_and_ends():
    # the worker is over the limit before or while it starts a job: each retry blames one job, so
    # the run ends with every job failed instead of restarting workers forever
    outcomes = _run([[("a", 1), ("b", 1)]], limit=1 * MIB)
    assert [o.split(" failed: ")[0] for o in outcomes] == ["a", "b"]
    assert all("memory limit of 1.00 MiB" in o for o in outcomes)


def test_a_worker_that_dies_fails_its_job_and_the_next_one_runs():
    outcomes = _run([[("crash", 1), ("after", 1)]], limit=None)
    assert outcomes == ["crash failed: the conversion process died (signal SIGKILL)", "after ok (1 MiB)"]


def test_a_real_conversion_over_the_limit_is_a_failure_row(tiny_reference, tmp_path):
    seen = []
    job = ConvertJob("tflite", "fp32", tiny_reference, tmp_path / "tflite-fp32", {"analyze": False})
    run_jobs([job], parallel=True, on_outcome=seen.append, memory_limit=64 * MIB)  # below TensorFlow's import
    (outcome,) = seen
    assert outcome.artifact is None and "memory limit of 64.00 MiB" in outcome.error
    assert not (tmp_path / "tflite-fp32").exists()  # nothing half-written in the artifact's place


def test_a_conversion_records_its_time_and_peak_memory(tiny_reference, tmp_path):
    seen = []
    job = ConvertJob("onnx", "fp32", tiny_reference, tmp_path / "onnx-fp32")
    run_jobs([job], parallel=False, on_outcome=seen.append, memory_limit=None)
    (outcome,) = seen
    assert outcome.artifact is not None, outcome.error
    assert outcome.seconds > 0 and outcome.peak_rss_bytes > 50 * MIB


def test_a_conversion_peak_includes_a_process_the_converter_waited_for(tmp_path):
    # in a fresh interpreter: RUSAGE_CHILDREN's peak is the largest child a process ever waited for
    code = (
        "import subprocess, sys\n"
        "from edgekit.convert import runner\n"
        "hold = 'import numpy; b = numpy.ones(400 << 20, numpy.uint8)'\n"
        "runner._run_guarded = lambda job: subprocess.run([sys.executable, '-c', hold], check=True) and "
        "runner.JobOutcome(job, error='none')\n"
        "print(runner._run_measured(None).peak_rss_bytes)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 400 * MIB  # the child's, far above this small process's own


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4GiB", 4 << 30), ("2500MB", 2_500_000_000), ("1.5 gib", int(1.5 * (1 << 30))), ("none", None)],
)
def test_memory_limit_sizes(text, expected):
    assert parse_memory_limit(text) == expected


@pytest.mark.parametrize("bad", ["lots", "-1GiB", "0", "4 parsecs"])
def test_an_unreadable_limit_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="memory_limit"):
        parse_memory_limit(bad)


def test_the_recipe_checks_the_limit_before_anything_runs():
    with pytest.raises(RecipeError, match=r"convert\.memory_limit.*'lots'"):
        load_recipe(BUNDLED_DEMO, ["convert.memory_limit=lots"])
    assert load_recipe(BUNDLED_DEMO, ["convert.memory_limit=3GiB"]).convert.memory_limit == "3GiB"
