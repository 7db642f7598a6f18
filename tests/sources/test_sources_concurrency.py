"""Many processes, one download; dead lock holders and killed downloads are recovered from."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from sources_support import MOBILENET_KAGGLE, hold_lock_and_die, pull_in_child

from edgekit.errors import SourceError
from edgekit.filelock import FileLock
from edgekit.sources.cache import Cache
from edgekit.sources.handles import parse_handle
from edgekit.sources.remote import fetch_remote

KAGGLE_ID = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"
SPAWN = multiprocessing.get_context("spawn")  # children start clean: no TensorFlow, no server threads


def test_eight_processes_download_exactly_once(server, settings, tiny_archive):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.stall_s = 0.5  # keep the one download in flight while the others arrive
    barrier, results = SPAWN.Barrier(8), SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=pull_in_child,
            args=(MOBILENET_KAGGLE, str(settings.cache_dir), server.url, barrier, results),
        )
        for _ in range(8)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [o[3] for o in outcomes] == ["ok"] * 8, outcomes
    assert len({o[1] for o in outcomes}) == 1 and len({o[0] for o in outcomes}) == 8
    assert server.hits[key] == 1
    assert len(server.requests_to("/api/v1/models/")) == 1


def test_killed_download_is_never_served_and_its_lock_is_recovered(server, settings, tiny_archive):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.stall_s = 3.0
    results = SPAWN.Queue()
    child = SPAWN.Process(
        target=pull_in_child, args=(MOBILENET_KAGGLE, str(settings.cache_dir), server.url, None, results)
    )
    child.start()
    deadline = time.monotonic() + 60
    while server.hits[key] == 0 and time.monotonic() < deadline:  # the child is mid-download
        time.sleep(0.05)
    assert server.hits[key] == 1
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=10)

    cache = Cache(settings.cache_root())
    assert cache.lookup(KAGGLE_ID) is None  # nothing half-downloaded is visible
    assert cache.staging_leftovers()  # what the dead process left behind
    server.stall_s = 0.0
    handle = parse_handle(MOBILENET_KAGGLE, settings)
    fetched = fetch_remote(handle, settings, None, MOBILENET_KAGGLE)
    assert any(f"dead process {child.pid}" in n for n in fetched.notes), fetched.notes
    assert cache.verify(fetched.entry) == [] and cache.staging_leftovers() == []
    assert server.hits[key] == 2


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
