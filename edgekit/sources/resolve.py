"""Dispatch a source spec to the right resolver; every road ends in a scanned, hashed SavedModel."""

from __future__ import annotations

from pathlib import Path

from edgekit.sources.base import LOCKFILE_NAME, ResolvedSource, SourceSettings
from edgekit.sources.catalogue import by_kaggle
from edgekit.sources.handles import (
    DemoHandle,
    KaggleHandle,
    KerasAppHandle,
    LocalHandle,
    OciHandle,
    RemoteHandle,
    parse_handle,
)
from edgekit.sources.lockfile import Lockfile
from edgekit.sources.module_check import inspect_module, scan_manifest, tree_hash
from edgekit.sources.remote import fetch_remote, record_in_lock


def resolve_source(
    spec: str, settings: SourceSettings | None = None, *, base_dir: Path | None = None
) -> ResolvedSource:
    """SPEC (any handle form) → a verified local SavedModel folder with its metadata.

    Relative local paths and the default lockfile (<base_dir>/edgekit.lock) are taken relative
    to BASE_DIR, the recipe's folder.
    """
    settings = settings or SourceSettings()
    handle = parse_handle(spec, settings, base_dir=base_dir)
    if isinstance(handle, DemoHandle):
        return _resolve_demo(handle, settings)
    if isinstance(handle, LocalHandle):
        from edgekit.sources.builders import resolve_keras_file
        from edgekit.sources.local import resolve_local_archive, resolve_local_folder

        resolver = {
            "folder": resolve_local_folder,
            "archive": resolve_local_archive,
            "keras": resolve_keras_file,
        }[handle.form]
        return resolver(spec, handle, settings)
    if isinstance(handle, KerasAppHandle):
        from edgekit.sources.builders import resolve_keras_app

        return resolve_keras_app(spec, handle, settings)
    if isinstance(handle, OciHandle):
        from edgekit.sources.oci import resolve_oci

        return resolve_oci(spec, handle, settings, lockfile_path(settings, base_dir))
    return resolve_remote(spec, handle, settings, lockfile_path(settings, base_dir))


def _resolve_demo(handle: DemoHandle, settings: SourceSettings) -> ResolvedSource:
    from edgekit.sources.demo import resolve_demo
    from edgekit.sources.opscan import check_saved_model

    resolved = resolve_demo(handle.spec, settings)
    # Built in code by edgekit itself, but scanned like everything else: one road for all sources.
    report = check_saved_model(
        resolved.path, allow_unsafe_ops=settings.allow_unsafe_ops, what=resolved.canonical
    )
    resolved.manifest.setdefault("scan", scan_manifest(report, settings))
    return resolved


def lockfile_path(settings: SourceSettings, base_dir: Path | None) -> Path | None:
    if settings.lockfile is not None:
        return Path(settings.lockfile)
    return Path(base_dir) / LOCKFILE_NAME if base_dir is not None else None


def resolve_remote(
    spec: str, handle: RemoteHandle, settings: SourceSettings, lock_path: Path | None
) -> ResolvedSource:
    lock = Lockfile.load(lock_path) if lock_path is not None else None
    fetched = fetch_remote(handle, settings, lock, spec)
    pinned, entry = fetched.handle, fetched.entry
    entry_in_catalogue = by_kaggle(pinned.variation_path) if isinstance(pinned, KaggleHandle) else None
    report, info, scan_notes = inspect_module(
        entry.module_dir, settings, what=pinned.canonical, catalogue=entry_in_catalogue
    )
    notes = []
    if pinned.spelled == "tfhub" and isinstance(pinned, KaggleHandle):
        notes.append(f"tfhub.dev handle {spec!r} moved to Kaggle Models as {pinned.canonical}")
    notes += fetched.notes + scan_notes
    if lock is not None:
        # Recorded only after the scan passed (or was overridden): a lockfile vouches for bytes.
        notes += record_in_lock(lock, fetched, settings, report.ops())
    return ResolvedSource(
        spec=spec,
        canonical=pinned.canonical,
        kind=pinned.kind,
        path=entry.module_dir,
        sha256=tree_hash(entry.files),
        info=info,
        notes=notes,
        manifest={
            "version": pinned.version,
            "resolved_from": fetched.resolved_from,
            "url": entry.meta.get("url"),
            "archive_sha256": entry.archive_sha256,
            "files": len(entry.files),
            "cache_entry": str(entry.folder),
            "lockfile": str(lock.path) if lock is not None else None,
            "scan": scan_manifest(report, settings),
        },
    )
