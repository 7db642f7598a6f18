"""A release as files: release.json, signature.json, RELEASE_NOTES.md and one bundle per target.

The same checks run on a release folder and on a release fetched from a registry, on the bytes in
memory, before anything is written: the signature over release.json by a trusted key, then every
file against the sha256 and size release.json records, then every bundle's own SHA256SUMS and
manifest (edgekit verify).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import BundleError, IntegrityError, UsageError
from edgekit.release.semver import Version, parse_version

RELEASE_JSON, SIGNATURE_JSON, NOTES = "release.json", "signature.json", "RELEASE_NOTES.md"
RELEASE_FORMAT = 1


@dataclass
class Release:
    meta: dict[str, Any]
    files: dict[str, bytes]
    signer: str | None

    @property
    def version(self) -> Version:
        return parse_version(self.meta["version"])


def load_meta(data: bytes, what: str) -> dict[str, Any]:
    try:
        meta = json.loads(data)
        if meta.get("release_format") != RELEASE_FORMAT or not isinstance(meta.get("files"), dict):
            raise ValueError(f"release_format {meta.get('release_format')!r}, expected {RELEASE_FORMAT}")
        parse_version(str(meta["version"]))
        return meta
    except (ValueError, KeyError, TypeError, AttributeError, UsageError) as exc:
        raise IntegrityError(f"{what}: release.json is not a valid edgekit release: {exc}") from None


def verify_files(
    files: dict[str, bytes], trusted: list, what: str, *, allow_unsigned: bool = False
) -> Release:
    """Check FILES (name → bytes) as a release; return it, or raise IntegrityError naming the problem."""
    from edgekit.signing.signatures import verify

    if RELEASE_JSON not in files:
        raise IntegrityError(f"{what} has no release.json: not an edgekit release")
    signer = None
    if SIGNATURE_JSON in files or not allow_unsigned:
        signer = verify(files[RELEASE_JSON], files.get(SIGNATURE_JSON), trusted, what)
    meta = load_meta(files[RELEASE_JSON], what)
    listed = meta["files"]
    extra = sorted(set(files) - set(listed) - {RELEASE_JSON, SIGNATURE_JSON})
    missing = sorted(set(listed) - set(files))
    if extra or missing:
        raise IntegrityError(
            f"{what}: files differ from release.json: "
            + "; ".join([f"extra {n}" for n in extra] + [f"missing {n}" for n in missing])
        )
    for name, rec in sorted(listed.items()):
        got = hashlib.sha256(files[name]).hexdigest()
        if got != rec["sha256"] or len(files[name]) != rec["size_bytes"]:
            raise IntegrityError(
                f"{what}: {name} has sha256 {got[:16]}… ({len(files[name])} bytes) but release.json "
                f"records {rec['sha256'][:16]}… ({rec['size_bytes']} bytes): it was changed",
                hint="do not use this release; fetch it again from the publisher",
            )
    _verify_bundles(files, meta, what)
    return Release(meta, files, signer)


def _verify_bundles(files: dict[str, bytes], meta: dict, what: str) -> None:
    from edgekit.bundle.archive import read_bundle_bytes
    from edgekit.bundle.verify import verify_entries

    for target in meta.get("targets", {}).values():
        name = target["bundle"]
        try:
            result = verify_entries(read_bundle_bytes(files[name], name))
        except BundleError as exc:
            raise IntegrityError(f"{what}: bundle {name}: {exc.message}") from None
        if result.problems:
            raise IntegrityError(f"{what}: bundle {name} does not verify: " + "; ".join(result.problems[:5]))


def read_folder(folder: Path) -> dict[str, bytes]:
    if not (folder / RELEASE_JSON).is_file():
        raise UsageError(
            f"{folder} is not a release folder (no {RELEASE_JSON})",
            hint="make one with `edgekit release RUN_DIR --version X.Y.Z`",
        )
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def local_versions(series: Path) -> dict[Version, Path]:
    """Release folders under SERIES (<releases>/<name>/), by version; malformed names are ignored."""
    out: dict[Version, Path] = {}
    if series.is_dir():
        for p in series.iterdir():
            if (p / RELEASE_JSON).is_file():
                try:
                    out[parse_version(p.name)] = p
                except UsageError:
                    continue
    return out
