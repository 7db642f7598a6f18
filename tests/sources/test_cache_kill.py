"""A pull SIGKILLed at each stage of a cache fill leaves nothing that is served, and no lock that blocks.

A real child process pulls from the loopback server and is killed at a known point, reached by an
event, not by timing: mid-download (the server holds the archive body half-sent), mid-unpack
(after the first file is written), just before the commit (the rename of the staging folder), and
just after it (the entry in place, the lock still held). Then a fresh pull must succeed: a fresh
download unless the killed pull had committed, no partial entry, no staging leftover, and the
dead process's lock taken over at once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading

import pytest
from kill_support import pull_paused_at
from sources_support import MOBILENET_KAGGLE

from edgekit.sources.cache import Cache
from edgekit.sources.handles import parse_handle
from edgekit.sources.remote import fetch_remote

KAGGLE_ID = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"
SPAWN = multiprocessing.get_context("spawn")  # children start clean: no TensorFlow, no server threads


@pytest.mark.parametrize("point", ["download", "unpack", "commit-before", "commit-after"])
def test_pull_killed_at_each_stage_leaves_no_partial_entry_and_no_blocking_lock(
    point, server, settings, tiny_archive
):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    held = server.hold_body = threading.Event() if point == "download" else None
    reached = SPAWN.Event()
    child = SPAWN.Process(
        target=pull_paused_at, args=(point, MOBILENET_KAGGLE, str(settings.cache_dir), server.url, reached)
    )
    child.start()
    try:
        at_point = server.holding.wait(90) if held is not None else reached.wait(90)
        assert at_point, f"the child never reached {point} (exit code {child.exitcode})"
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    finally:
        if child.is_alive():
            child.kill()
            child.join()
        if held is not None:  # the server thread of the dead download may go; new bodies flow freely
            server.hold_body = None
            held.set()
    assert child.exitcode == -signal.SIGKILL

    cache = Cache(settings.cache_root())
    committed = point == "commit-after"
    entry = cache.lookup(KAGGLE_ID)
    if committed:  # the rename is the commit: the entry is whole even though its writer died
        assert entry is not None and cache.verify(entry) == []
    else:
        assert entry is None and [p for p, _ in cache.entries()] == []
        assert cache.staging_leftovers(), "the dead fill's staging folder should be there to clean up"

    lock = cache.lock(Cache.key_for(KAGGLE_ID), timeout_s=0)
    assert lock.acquire(blocking=False), "the dead process's lock blocks the next pull"
    assert lock.recovered_from == child.pid
    lock.release()

    fetched = fetch_remote(parse_handle(MOBILENET_KAGGLE, settings), settings, None, MOBILENET_KAGGLE)
    assert cache.verify(fetched.entry) == [] and cache.staging_leftovers() == []
    assert [p for p, _ in cache.entries()] == [fetched.entry.folder]
    assert server.hits[key] == (1 if committed else 2)  # a committed entry is reused, not fetched again
    assert any(("cache hit" if committed else "downloaded") in n for n in fetched.notes), fetched.notes
