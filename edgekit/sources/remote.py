"""Pull a tfhub.dev / Kaggle module into the cache: allowlist, pin, download once, verify.

This layer moves bytes and checks them against hashes; it never imports TensorFlow, so many
processes can pull at once cheaply. Checking what the bytes *do* (the op scan) is the caller's
job (resolve.py), before anything loads them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgekit.errors import IntegrityError, SourceError, UntrustedSourceError
from edgekit.fsutil import sha256_file
from edgekit.sources.base import SourceSettings
from edgekit.sources.cache import Cache, CacheEntry
from edgekit.sources.download import (
    download_file,
    fetch_json,
    kaggle_auth,
    with_retries,
)
from edgekit.sources.extract import find_module_root, move_module, safe_extract
from edgekit.sources.handle_types import HubHandle, KaggleHandle, RemoteHandle
from edgekit.sources.lockfile import ACCEPT_HINT, LockEntry, Lockfile, check_locked
from edgekit.sources.progress import DownloadProgress


@dataclass
class Fetched:
    handle: RemoteHandle  # pinned
    entry: CacheEntry
    locked: LockEntry | None  # what the lockfile said before this pull
    resolved_from: str | None  # the unpinned canonical id, when the version was resolved here
    notes: list[str] = field(default_factory=list)


def check_publisher(publisher: str, settings: SourceSettings, spec: str) -> None:
    allowed = settings.publishers()
    if publisher.lower() not in allowed:
        raise UntrustedSourceError(
            f"source {spec!r}: publisher {publisher!r} is not in the allowlist ({', '.join(sorted(allowed))})",
            hint=f"if you trust it, allow it: --allow-publisher {publisher} (recipe: source.allow_publishers)",
        )


def pin(
    handle: RemoteHandle, settings: SourceSettings, lock: Lockfile | None, spec: str
) -> tuple[RemoteHandle, str | None, list[str]]:
    """HANDLE with a version: its own, the lockfile's, or (when allowed) the publisher's current one."""
    if handle.pinned:
        return handle, None, []
    unpinned = handle.unpinned_canonical
    if not settings.allow_unpinned:
        raise UntrustedSourceError(
            f"source {spec!r} has no version, so it could change under you",
            hint=f"pin it ({unpinned}/<version>), or opt in with --allow-unpinned (recipe: source.allow_unpinned: true); "
            "the version it resolves to is recorded in edgekit.lock",
        )
    locked = lock.resolved_for(unpinned) if lock is not None and not settings.upgrade else None
    if locked is not None and lock is not None:
        version = int(locked.rsplit("/", 1)[1])
        return (
            handle.with_version(version),
            unpinned,
            [f"{unpinned}: version {version} as recorded in {lock.path}"],
        )
    if settings.is_offline():
        raise SourceError(
            f"offline: cannot look up the current version of {unpinned}",
            hint="pin a version, or pull once online so edgekit.lock records it",
        )
    if isinstance(handle, HubHandle):
        raise SourceError(
            f"source {spec!r}: tfhub.dev has no API for a module's current version",
            hint=f"pin it ({unpinned}/<version>), or use its Kaggle Models handle",
        )
    version = _current_kaggle_version(handle, settings)
    return handle.with_version(version), unpinned, [f"{unpinned}: resolved to the current version {version}"]


def _current_kaggle_version(handle: KaggleHandle, settings: SourceSettings) -> int:
    url = handle.version_url(settings)
    data = with_retries(
        lambda: fetch_json(url, timeout_s=settings.timeout_s, auth=kaggle_auth()),
        retries=settings.retries,
        backoff_s=settings.retry_backoff_s,
        what=f"looking up the version of {handle.unpinned_canonical}",
    )
    version = data.get("versionNumber") if isinstance(data, dict) else None
    if not isinstance(version, int) or version < 1:
        raise SourceError(f"{url} answered no usable versionNumber (got {str(data)[:120]})")
    return version


def fetch_remote(handle: RemoteHandle, settings: SourceSettings, lock: Lockfile | None, spec: str) -> Fetched:
    """The verified cache entry for HANDLE, downloading it (once across processes) if needed."""
    check_publisher(handle.publisher, settings, spec)
    pinned, resolved_from, notes = pin(handle, settings, lock, spec)
    canonical = pinned.canonical
    locked = lock.get(canonical) if lock is not None else None
    cache = Cache(settings.cache_root())
    if settings.is_offline():
        entry = _offline_entry(cache, canonical)
    else:
        expected = None if (locked is None or settings.accept_new_hash) else locked.archive_sha256
        filled = cache.fill(
            canonical, lambda staging: _download_into(staging, pinned, settings, expected, lock)
        )
        entry = filled.entry
        notes += filled.notes
        notes.append(
            f"downloaded {canonical}" if filled.created else f"{canonical}: cache hit ({entry.folder})"
        )
    if locked is not None and lock is not None and not settings.accept_new_hash:
        check_locked(canonical, locked, entry.archive_sha256, entry.files, lock.path)
    return Fetched(pinned, entry, locked, resolved_from, notes)


def _offline_entry(cache: Cache, canonical: str) -> CacheEntry:
    entry = cache.lookup(canonical)
    if entry is None:
        raise SourceError(
            f"offline: {canonical} is not in the cache ({cache.root})",
            hint="run `edgekit pull <handle>` once while online (or point EDGEKIT_CACHE at a cache that has it)",
        )
    problems = cache.verify(entry)
    if problems:
        raise IntegrityError(
            f"offline: the cached copy of {canonical} is damaged: {', '.join(problems[:5])}",
            hint="go online and run again to download it afresh, or `edgekit cache prune` to drop it",
        )
    return entry


def _download_into(
    staging: Path, handle: RemoteHandle, settings: SourceSettings, expected: str | None, lock: Lockfile | None
) -> dict[str, Any]:
    """Download HANDLE's archive into STAGING, check it, unpack it to STAGING/module."""
    url = handle.download_url(settings)
    auth = kaggle_auth() if isinstance(handle, KaggleHandle) else None
    archive = staging / "archive.part"
    progress = DownloadProgress(handle.canonical)
    try:
        got = with_retries(
            lambda: download_file(url, archive, timeout_s=settings.timeout_s, auth=auth, progress=progress),
            retries=settings.retries,
            backoff_s=settings.retry_backoff_s,
            what=f"download of {handle.canonical}",
        )
    finally:
        progress.close()
    if expected is not None and got.sha256 != expected:
        raise IntegrityError(
            f"{handle.canonical}: downloaded archive has sha256 {got.sha256} but {lock.path if lock else 'the lockfile'} "
            f"records {expected}; nothing was cached",
            hint=ACCEPT_HINT,
        )
    unpack_archive(archive, staging, settings, what=f"the archive of {handle.canonical}")
    final = urlsplit(got.final_url)
    return {
        "kind": handle.kind,
        "version": handle.version,
        "url": url,
        "served_by": f"{final.scheme}://{final.netloc}{final.path}",  # no query: signed URLs carry secrets
        "archive_sha256": got.sha256,
        "archive_size": got.size,
    }


def unpack_archive(archive: Path, staging: Path, settings: SourceSettings, *, what: str) -> None:
    """ARCHIVE → STAGING/module, through a checked extraction; the archive is deleted after."""
    extracted = staging / "extract"
    safe_extract(
        archive,
        extracted,
        max_entries=settings.max_archive_entries,
        max_bytes=settings.max_extracted_bytes,
        max_ratio=settings.max_compression_ratio,
    )
    archive.unlink()
    move_module(find_module_root(extracted, what=what), staging / "module")


def fetch_local_archive(path: Path, settings: SourceSettings) -> tuple[str, CacheEntry, list[str]]:
    """A local .tar.gz unpacked into the cache, keyed by its sha256 (same bytes, one entry)."""
    sha = sha256_file(path)
    canonical = f"archive:sha256:{sha}"
    cache = Cache(settings.cache_root())

    def fill(staging: Path) -> dict[str, Any]:
        copy = staging / "archive.part"
        shutil.copyfile(path, copy)  # unpack a private copy so the bytes cannot change under us
        if sha256_file(copy) != sha:
            raise SourceError(
                f"{path} changed while edgekit was reading it", hint="run again once it is complete"
            )
        unpack_archive(copy, staging, settings, what=str(path))
        return {
            "kind": "local",
            "url": path.as_uri(),
            "archive_sha256": sha,
            "archive_size": path.stat().st_size,
        }

    filled = cache.fill(canonical, fill)
    return canonical, filled.entry, filled.notes


def record_in_lock(
    lock: Lockfile, fetched: Fetched, settings: SourceSettings, unsafe_ops: list[str]
) -> list[str]:
    """Write FETCHED into the lockfile when it is new, re-accepted, or newly overridden."""
    entry = LockEntry(fetched.entry.archive_sha256, fetched.entry.files, unsafe_ops)
    canonical = fetched.handle.canonical
    new_resolution = (
        fetched.resolved_from is not None and lock.resolved_for(fetched.resolved_from) != canonical
    )
    if fetched.locked is not None and fetched.locked.to_json() == entry.to_json() and not new_resolution:
        return []
    if not settings.update_lock:
        return [f"{canonical} is not recorded in {lock.path} (lockfile updates are off)"]
    lock.record(
        canonical, entry, resolved_from=fetched.resolved_from, lock_dir=Cache(settings.cache_root()).locks
    )
    if fetched.locked is None:
        return [f"recorded {canonical} in {lock.path}"]
    if fetched.locked.archive_sha256 != entry.archive_sha256 or fetched.locked.files != entry.files:
        return [
            f"accepted new bytes for {canonical}: sha256 {fetched.locked.archive_sha256} → {entry.archive_sha256} ({lock.path})"
        ]
    return [f"updated {canonical} in {lock.path}"]
