"""Child processes for the cache kill and concurrency tests (spawned: importable by name, no TensorFlow).

A child pulls one handle from the loopback server with edgekit's real code. To be killed at an
exact point, it wraps one function of its OWN copy of edgekit (nothing in edgekit changes): on
reaching the point it sets REACHED and blocks until the parent SIGKILLs it. The points:

- "unpack": right after the first file of the archive is written into the staging folder;
- "commit-before": entry.json is written, the staging folder is about to be renamed into place;
- "commit-after": the rename is done, the entry's lock not yet released.

(Mid-download needs no wrapper: the server holds the body, see ModelServer.hold_body.)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

POINTS = ("unpack", "commit-before", "commit-after")


def _block_forever(reached) -> None:
    reached.set()
    threading.Event().wait()  # until the parent's SIGKILL


def _install_pause(point: str, reached) -> None:
    if point == "unpack":
        from edgekit.sources import extract

        write = extract._Extractor._write

        def write_then_pause(self, *args, **kwargs):
            write(self, *args, **kwargs)
            _block_forever(reached)

        extract._Extractor._write = write_then_pause  # type: ignore[method-assign]
    elif point in ("commit-before", "commit-after"):
        replace = os.replace

        def is_commit(src, dst) -> bool:
            # The commit renames a staging FOLDER onto sources/<key>; every other rename (entry.json
            # written atomically inside the staging folder) is a file.
            dst = Path(dst)
            return Path(src).is_dir() and dst.parent.name == "sources" and not dst.name.startswith(".")

        def replace_with_pause(src, dst, *args, **kwargs):
            commit = is_commit(src, dst)
            if commit and point == "commit-before":
                _block_forever(reached)
            replace(src, dst, *args, **kwargs)
            if commit:
                _block_forever(reached)

        os.replace = replace_with_pause
    elif point != "download":
        raise ValueError(f"unknown pause point {point!r}")


def _settings(cache_dir: str, base_url: str):
    from edgekit.sources.base import SourceSettings

    return SourceSettings(
        cache_dir=Path(cache_dir), hub_url=base_url, kaggle_url=base_url, retry_backoff_s=0.0, timeout_s=120.0
    )


def pull_paused_at(point: str, spec: str, cache_dir: str, base_url: str, reached) -> None:
    """Pull SPEC, stopping for good at POINT (the parent kills this process there)."""
    from edgekit.sources.handles import parse_handle
    from edgekit.sources.remote import fetch_remote

    settings = _settings(cache_dir, base_url)
    _install_pause(point, reached)
    fetch_remote(parse_handle(spec, settings), settings, None, spec)
    os._exit(3)  # reaching the end means the pause point was never hit: the parent sees exit 3


def pull_reporting_contention(spec: str, cache_dir: str, base_url: str, contended, results) -> None:
    """Pull SPEC; the first time this process finds the entry's lock held, CONTENDED is released
    once, so the parent knows every puller is waiting before it lets the one download finish."""
    from edgekit.filelock import FileLock
    from edgekit.sources.handles import parse_handle
    from edgekit.sources.remote import fetch_remote

    settings = _settings(cache_dir, base_url)
    try_flock, told = FileLock._try_flock, []

    def try_and_tell(self):
        got = try_flock(self)
        if not got and not told:
            told.append(True)
            contended.release()
        return got

    FileLock._try_flock = try_and_tell  # type: ignore[method-assign]
    try:
        fetched = fetch_remote(parse_handle(spec, settings), settings, None, spec)
        results.put((os.getpid(), str(fetched.entry.module_dir), fetched.entry.archive_sha256, "ok"))
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put((os.getpid(), "", "", f"{type(exc).__name__}: {exc}"))
