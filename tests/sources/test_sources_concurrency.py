"""Many processes, one download; locks of dead holders are recovered from (kills mid-pull: test_cache_kill.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import pytest
from kill_support import pull_reporting_contention
from sources_support import MOBILENET_KAGGLE, hold_lock_and_die

from edgekit.errors import SourceError
from edgekit.filelock import FileLock
from edgekit.sources.cache import Cache

KAGGLE_ID = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"
SPAWN = multiprocessing.get_context("spawn")  # children start clean: no TensorFlow, no server threads


def test_eight_processes_download_exactly_once(server, settings, tiny_archive):
    """8 pull processes of one handle: the server sends one archive body, all 8 get the same
    verified entry. Deterministic: the one body is held half-sent until each of the other 7
    processes has found the entry's lock taken."""
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    held = server.hold_body = threading.Event()
    contended, results = SPAWN.Semaphore(0), SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=pull_reporting_contention,
            args=(MOBILENET_KAGGLE, str(settings.cache_dir), server.url, contended, results),
        )
        for _ in range(8)
    ]
    for p in procs:
        p.start()
    try:
        assert server.holding.wait(90), "no process started the download"
        for n in range(7):
            assert contended.acquire(timeout=90), f"only {n} of 7 processes reached the held lock"
        held.set()
        outcomes = [results.get(timeout=90) for _ in procs]
    finally:
        held.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert [o[3] for o in outcomes] == ["ok"] * 8, outcomes
    assert len({o[0] for o in outcomes}) == 8 and len({o[1] for o in outcomes}) == 1
    assert server.hits[key] == 1
    assert len(server.requests_to("/api/v1/models/")) == 1
    cache = Cache(settings.cache_root())
    entry = cache.lookup(KAGGLE_ID)
    assert entry is not None and str(entry.module_dir) == outcomes[0][1] and cache.verify(entry) == []
    assert {o[2] for o in outcomes} == {entry.archive_sha256} and cache.staging_leftovers() == []


@pytest.mark.slow
def test_eight_edgekit_pull_commands_download_once(server, settings, tiny_archive, tmp_path):
    """The same with the real command: 8 `edgekit pull` processes (each with its own lockfile),
    each op-scanning with TensorFlow. Whatever the interleaving, one body is sent."""
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.stall_s = 2.0  # makes the pulls overlap more often; the assertions hold for any interleaving
    cache = tmp_path / "cli-cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "edgekit", "pull", MOBILENET_KAGGLE, "--json", "--cache", str(cache)]
            + ["--kaggle-url", server.url, "--lock", str(tmp_path / f"edgekit-{n}.lock")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    outcomes = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err[-2000:] for _, err in outcomes]
    paths = {json.loads(out)[0]["path"] for out, _ in outcomes}
    assert len(paths) == 1 and server.hits[key] == 1
    entry = Cache(cache).lookup(KAGGLE_ID)
    assert entry is not None and Cache(cache).verify(entry) == [] and Cache(cache).staging_leftovers() == []


@pytest.mark.parametrize("backend", ["flock", "pidfile"])
def test_lock_of_a_dead_holder_is_recovered(tmp_path, backend):
    if backend == "flock" and os.name != "posix":
        pytest.skip("flock is POSIX only")
    path = tmp_path / "x.lock"
    ready = SPAWN.Event()
    child = SPAWN.Process(target=hold_lock_and_die, args=(str(path), backend, ready))
    child.start()
    child.join(timeout=60)
    assert ready.is_set() and path.exists()
    lock = FileLock(path, backend=backend, timeout_s=5)
    started = time.monotonic()
    with lock:
        assert lock.recovered_from == child.pid
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("backend", ["flock", "pidfile"])
def test_lock_held_by_a_live_process_waits_then_times_out(tmp_path, backend):
    path = tmp_path / "x.lock"
    with FileLock(path, backend=backend):
        other = FileLock(path, backend=backend, timeout_s=0.3)
        assert other.acquire(blocking=False) is False
        with pytest.raises(SourceError, match="timed out") as err:
            other.acquire()
        assert str(os.getpid()) in str(err.value)
    with FileLock(path, backend=backend, timeout_s=1) as again:
        assert again.recovered_from is None  # a clean release leaves no trace


def test_pidfile_lock_from_another_host_is_respected_until_old(tmp_path):
    path = tmp_path / "x.lock"
    path.write_text("1 some-other-host\n")
    assert FileLock(path, backend="pidfile", timeout_s=0.2).acquire(blocking=False) is False
    old = time.time() - 7 * 3600
    os.utime(path, (old, old))
    lock = FileLock(path, backend="pidfile")
    assert lock.acquire(blocking=False) is True and lock.recovered_from == 1
    lock.release()
    assert not path.exists()
