"""`edgekit verify`: prove a bundle is exactly what `edgekit bundle` wrote.

Trust chain: SHA256SUMS lists every file, manifest.json included; manifest.json lists every file
except itself and SHA256SUMS. Checks, each with its own message: unsafe or non-regular entries
(symlinks, folders, ../ paths), files missing, extra files, changed bytes, an edited manifest, and
a manifest whose file list disagrees with SHA256SUMS, and an artifact.json whose recorded sha256
is not the hash of its model. These checks detect accidents and tampering with one file, not a
forger who rewrites the model, its artifact.json, the manifest and SHA256SUMS consistently: that
takes a signature. With trusted keys (`verify --key`), SHA256SUMS.sig must be an ed25519
signature of SHA256SUMS by one of them (edgekit.bundle.signature).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from edgekit.bundle.archive import Entry, read_bundle
from edgekit.bundle.signature import SIGNATURE, check_signature
from edgekit.errors import BundleError

SUMS, MANIFEST, ARTIFACT_JSON = "SHA256SUMS", "manifest.json", "artifact.json"


@dataclass
class VerifyResult:
    files: int = 0
    problems: list[str] = field(default_factory=list)
    sums: bytes = b""  # SHA256SUMS as stored: what a signature signs
    signature: bytes | None = None  # SHA256SUMS.sig, when the bundle has one
    signed_by: str | None = None  # the trusted key id that signed it (set when keys were given)


def _parse_sums(data: bytes) -> dict[str, str]:
    sums = {}
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BundleError(f"{SUMS} line {n} is not '<sha256>  <path>': {line!r}")
        sums[name] = digest
    return sums


def _entry_problems(entries: list[Entry]) -> tuple[dict[str, bytes], list[str]]:
    files, problems = {}, []
    for e in entries:
        parts = PurePosixPath(e.name).parts
        if e.name.startswith("/") or ".." in parts:
            problems.append(
                f"{e.name}: unsafe path (absolute or with ..); a bundle holds only relative paths"
            )
        elif e.kind == "symlink":
            problems.append(
                f"{e.name} is a symbolic link (to {e.link!r}), not a regular file: it was replaced after bundling"
            )
        elif e.kind == "file":
            if e.name in files:
                problems.append(f"{e.name} appears twice in the archive")
            files[e.name] = e.data or b""
        elif e.kind != "dir":
            problems.append(f"{e.name} is not a regular file ({e.kind})")
    return files, problems


def _manifest_problems(files: dict[str, bytes], sums: dict[str, str]) -> list[str]:
    try:
        manifest = json.loads(files[MANIFEST])
        listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST} is not a valid edgekit manifest: {exc}"]
    expected = {p: d for p, d in sums.items() if p != MANIFEST}
    problems = [f"{MANIFEST} lists {p} but {SUMS} does not" for p in sorted(set(listed) - set(expected))]
    problems += [
        f"{MANIFEST} does not list {p}, which {SUMS} does" for p in sorted(set(expected) - set(listed))
    ]
    problems += [
        f"{MANIFEST} and {SUMS} disagree on the sha256 of {p}"
        for p in sorted(set(listed) & set(expected))
        if listed[p] != expected[p]
    ]
    return problems


def _tree_sha256(files: dict[str, bytes]) -> str:
    """fsutil.sha256_tree of a folder, from its files' relative paths and bytes."""
    h = hashlib.sha256()
    for rel in sorted(files, key=lambda r: tuple(r.split("/"))):
        h.update(rel.encode() + b"\0")
        h.update(hashlib.sha256(files[rel]).hexdigest().encode() + b"\n")
    return h.hexdigest()


def _manifest_artifacts(files: dict[str, bytes]) -> dict[str, str]:
    try:
        return {a["path"]: a["sha256"] for a in json.loads(files[MANIFEST])["artifacts"]}
    except (ValueError, KeyError, TypeError):
        return {}


def _artifact_problems(files: dict[str, bytes], trusted: set[str], listed: Iterable[str] = ()) -> list[str]:
    """Each artifact.json's recorded sha256 against the model it names (and the manifest's record).

    The recorded hash is of the model file, or of the artifact folder for folder formats (TF.js:
    model.json + shards, hashed before artifact.json was written). Only files whose bytes match
    SHA256SUMS (TRUSTED) are compared, so one changed or missing file (LISTED in SHA256SUMS but
    absent) is reported once, by the checksum check.
    """
    problems = []
    recorded_in_manifest = _manifest_artifacts(files) if MANIFEST in trusted else {}
    for meta_path in sorted(p for p in files if PurePosixPath(p).name == ARTIFACT_JSON):
        folder = str(PurePosixPath(meta_path).parent)
        members = {p[len(folder) + 1 :]: d for p, d in files.items() if p.startswith(folder + "/")}
        del members[ARTIFACT_JSON]
        if meta_path not in trusted or not set(f"{folder}/{m}" for m in members) <= trusted:
            continue
        try:
            meta = json.loads(files[meta_path])
            model, recorded = f"{folder}/{meta['path']}", str(meta["sha256"])
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{meta_path} is not a valid artifact description: {exc}")
            continue
        if model not in files:
            if model not in set(listed):
                problems.append(f"{meta_path} names the model {meta['path']!r}, which is not in the bundle")
            continue
        actual = {hashlib.sha256(files[model]).hexdigest(), _tree_sha256(members)}
        if recorded not in actual:
            problems.append(
                f"{meta_path} records sha256 {recorded[:16]}… but {model} hashes to "
                f"{hashlib.sha256(files[model]).hexdigest()[:16]}…: the model is not the one converted"
            )
        elif model in recorded_in_manifest and recorded_in_manifest[model] != recorded:
            problems.append(
                f"{MANIFEST} records sha256 {recorded_in_manifest[model][:16]}… for {model}, "
                f"{meta_path} records {recorded[:16]}…"
            )
    return problems


def verify_entries(entries: list[Entry]) -> VerifyResult:
    files, problems = _entry_problems(entries)
    symlinked = {e.name for e in entries if e.kind == "symlink"}
    if SUMS not in files:
        raise BundleError(
            f"no {SUMS} in the bundle: not an edgekit bundle, or {SUMS} was removed",
            hint="rebuild it with `edgekit bundle`",
        )
    raw_sums = files.pop(SUMS)
    signature = files.pop(SIGNATURE, None)
    sums = _parse_sums(raw_sums)
    for name in sorted(set(files) - set(sums)):
        problems.append(f"extra file {name}: not listed in {SUMS} (added after bundling)")
    for name in sorted(set(sums) - set(files) - symlinked):
        problems.append(f"missing file {name}: listed in {SUMS} but not in the bundle")
    intact = set()
    for name in sorted(set(sums) & set(files)):
        actual = hashlib.sha256(files[name]).hexdigest()
        if actual == sums[name]:
            intact.add(name)
        else:
            what = (
                "the manifest was edited after bundling"
                if name == MANIFEST
                else "its bytes changed after bundling"
            )
            problems.append(
                f"{name}: sha256 {actual[:16]}… differs from {sums[name][:16]}… in {SUMS}: {what}"
            )
    if MANIFEST in files and not any(p.startswith(f"{MANIFEST}:") for p in problems):
        problems += _manifest_problems(files, sums)
    problems += _artifact_problems(files, intact, sums)
    count = len(files) + 1 + (signature is not None)
    return VerifyResult(files=count, problems=problems, sums=raw_sums, signature=signature)


def verify_bundle(path: Path, keys: list[Path] | None = None) -> VerifyResult:
    """Raise BundleError listing every problem; return the result when the bundle is intact.

    With KEYS (public key files), the bundle must first carry a signature of its SHA256SUMS by one
    of them: IntegrityError (exit 3) when it is unsigned, signed by another key, or changed after
    signing, which is how a consistently rewritten bundle is caught.
    """
    result = verify_entries(read_bundle(path))
    if keys:
        result.signed_by = check_signature(result.sums, result.signature, list(keys), f"bundle {path}")
    if result.problems:
        listing = "\n  - ".join(result.problems)
        raise BundleError(
            f"bundle {path} does not verify ({len(result.problems)} problem(s)):\n  - {listing}",
            hint="rebuild the bundle with `edgekit bundle`, or find who changed it",
        )
    return result
