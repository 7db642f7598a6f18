"""Local sources: a SavedModel folder (scanned in place) or a .tar.gz of one (unpacked into the cache)."""

from __future__ import annotations

from edgekit.errors import SourceError
from edgekit.fsutil import sha256_tree
from edgekit.sources.base import ResolvedSource, SourceSettings
from edgekit.sources.handles import LocalHandle
from edgekit.sources.module_check import checked_source, tree_hash
from edgekit.sources.remote import fetch_local_archive


def resolve_local_folder(spec: str, handle: LocalHandle, settings: SourceSettings) -> ResolvedSource:
    path = handle.path
    if not (path / "saved_model.pb").is_file():
        raise SourceError(
            f"source {spec!r}: {path} has no saved_model.pb, so it is not a SavedModel folder",
            hint="give the folder that contains saved_model.pb",
        )
    return checked_source(
        spec, f"local:{path}", "local", path, sha256_tree(path), settings, what=f"local module {path}"
    )


def resolve_local_archive(spec: str, handle: LocalHandle, settings: SourceSettings) -> ResolvedSource:
    canonical, entry, notes = fetch_local_archive(handle.path, settings)
    return checked_source(
        spec,
        canonical,
        "local",
        entry.module_dir,
        tree_hash(entry.files),
        settings,
        what=f"archive {handle.path}",
        notes=notes,
        manifest={
            "archive": str(handle.path),
            "archive_sha256": entry.archive_sha256,
            "cache_entry": str(entry.folder),
        },
    )
