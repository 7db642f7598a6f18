"""Releases as sources: `oci://HOST[:PORT]/REPO:X.Y.Z` names a release published with
`edgekit release push`, and resolves to the reference SavedModel it carries.

It is handled like a Hub handle: pinned (the tag must be a release version), downloaded once into
the cache, verified, op-scanned, and recorded in edgekit.lock (the sha256 of reference.tar.gz and
of every file of the SavedModel); later runs refuse different bytes. On top of the lockfile, the
release's ed25519 signature must come from a trusted key: EDGEKIT_TRUSTED_KEYS lists the
publishers' .pub files (separated by the OS path separator), or SourceSettings.extra["trusted_keys"].
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgekit.errors import IntegrityError, SourceError, UsageError
from edgekit.sources.base import ResolvedSource, SourceSettings
from edgekit.sources.handle_types import OciHandle

TRUST_HINT = (
    "set EDGEKIT_TRUSTED_KEYS to the publisher's public key file(s) (.pub), "
    "after checking its fingerprint with them"
)


def parse_oci_handle(text: str) -> OciHandle:
    from edgekit.release.oci import parse_ref
    from edgekit.release.semver import parse_version

    ref = parse_ref(text, need_tag=False)
    if ref.tag is None:
        raise UsageError(
            f"source {text!r} has no version, so it could change under you",
            hint=f"pin a release version: {text}:X.Y.Z (see `edgekit release list {text}`)",
        )
    try:
        parse_version(ref.tag)
    except UsageError:
        raise UsageError(
            f"source {text!r}: tag {ref.tag!r} is not a release version (MAJOR.MINOR.PATCH); tags like it can move",
            hint="pin a release version, e.g. :1.2.0",
        ) from None
    return OciHandle(ref.host, ref.repo, ref.tag)


def trusted_keys(settings: SourceSettings) -> list:
    from edgekit.signing.keys import load_public_key

    paths = settings.extra.get("trusted_keys") or [
        p for p in os.environ.get("EDGEKIT_TRUSTED_KEYS", "").split(os.pathsep) if p.strip()
    ]
    if not paths:
        raise UsageError(
            "no trusted release keys: a release source is only as good as the key that signed it",
            hint=TRUST_HINT,
        )
    return [load_public_key(Path(p).expanduser()) for p in paths]


def _fill(staging: Path, handle: OciHandle, settings: SourceSettings) -> dict[str, Any]:
    """Download the release, verify it (signature, hashes, bundles) in memory, unpack its reference."""
    import hashlib

    from edgekit.release.oci import download, parse_ref
    from edgekit.release.store import verify_files
    from edgekit.sources.remote import unpack_archive

    files = download(parse_ref(handle.canonical, need_tag=True))
    release = verify_files(files, trusted_keys(settings), handle.canonical)
    ref = release.meta.get("reference")
    if release.meta["version"] != handle.tag:
        raise IntegrityError(
            f"{handle.canonical}: the tag says {handle.tag} but the signed release says {release.meta['version']}"
        )
    if not ref:
        raise SourceError(
            f"{handle.canonical} carries no reference SavedModel, so it cannot be a source",
            hint="its publisher can release it again from a run whose targets share one reference",
        )
    data = files[ref["file"]]
    (staging / "archive.part").write_bytes(data)
    unpack_archive(staging / "archive.part", staging, settings, what=f"the reference of {handle.canonical}")
    return {
        "kind": "oci",
        "version": handle.tag,
        "url": handle.canonical,
        "archive_sha256": hashlib.sha256(data).hexdigest(),
        "archive_size": len(data),
        "release_sha256": hashlib.sha256(files["release.json"]).hexdigest(),
        "signer": release.signer,
        "release": release.meta["name"],
    }


def resolve_oci(
    spec: str, handle: OciHandle, settings: SourceSettings, lock_path: Path | None
) -> ResolvedSource:
    from edgekit.sources.cache import Cache
    from edgekit.sources.lockfile import Lockfile, check_locked
    from edgekit.sources.module_check import inspect_module, scan_manifest, tree_hash
    from edgekit.sources.remote import Fetched, _offline_entry, record_in_lock

    lock = Lockfile.load(lock_path) if lock_path is not None else None
    canonical = handle.canonical
    locked = lock.get(canonical) if lock is not None else None
    if settings.is_offline():
        entry, notes = (
            _offline_entry(Cache(settings.cache_root()), canonical),
            [f"{canonical}: from the cache (offline)"],
        )
    else:
        filled = Cache(settings.cache_root()).fill(
            canonical, lambda staging: _fill(staging, handle, settings)
        )
        entry = filled.entry
        notes = filled.notes + [
            f"fetched and verified {canonical} (signed by {entry.meta.get('signer')})"
            if filled.created
            else f"{canonical}: cache hit ({entry.folder})"
        ]
    if locked is not None and lock is not None and not settings.accept_new_hash:
        check_locked(canonical, locked, entry.archive_sha256, entry.files, lock.path)
    report, info, scan_notes = inspect_module(entry.module_dir, settings, what=canonical)
    notes += scan_notes
    if lock is not None:  # recorded only after the scan passed, like every other source
        notes += record_in_lock(lock, Fetched(handle, entry, locked, None), settings, report.ops())  # type: ignore[arg-type]
    return ResolvedSource(
        spec=spec,
        canonical=canonical,
        kind="oci",
        path=entry.module_dir,
        sha256=tree_hash(entry.files),
        info=info,
        notes=notes,
        manifest={
            "version": handle.tag,
            "url": canonical,
            "archive_sha256": entry.archive_sha256,
            "release_sha256": entry.meta.get("release_sha256"),
            "signer": entry.meta.get("signer"),
            "files": len(entry.files),
            "cache_entry": str(entry.folder),
            "lockfile": str(lock.path) if lock is not None else None,
            "scan": scan_manifest(report, settings),
        },
    )
