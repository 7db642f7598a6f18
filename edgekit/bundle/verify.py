"""`edgekit verify`: prove a bundle is exactly what `edgekit bundle` wrote.

Trust chain: SHA256SUMS lists every file, manifest.json included; manifest.json lists every file
except itself and SHA256SUMS. Checks, each with its own message: unsafe or non-regular entries
(symlinks, folders, ../ paths), files missing, extra files, changed bytes, an edited manifest, and
a manifest whose file list disagrees with SHA256SUMS. Without a signature this detects accidents
and tampering with one file, not a forger who rewrites both lists consistently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from edgekit.bundle.archive import Entry, read_bundle
from edgekit.errors import BundleError

SUMS, MANIFEST = "SHA256SUMS", "manifest.json"


@dataclass
class VerifyResult:
    files: int = 0
    problems: list[str] = field(default_factory=list)


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


def verify_entries(entries: list[Entry]) -> VerifyResult:
    files, problems = _entry_problems(entries)
    symlinked = {e.name for e in entries if e.kind == "symlink"}
    if SUMS not in files:
        raise BundleError(
            f"no {SUMS} in the bundle: not an edgekit bundle, or {SUMS} was removed",
            hint="rebuild it with `edgekit bundle`",
        )
    sums = _parse_sums(files.pop(SUMS))
    for name in sorted(set(files) - set(sums)):
        problems.append(f"extra file {name}: not listed in {SUMS} (added after bundling)")
    for name in sorted(set(sums) - set(files) - symlinked):
        problems.append(f"missing file {name}: listed in {SUMS} but not in the bundle")
    for name in sorted(set(sums) & set(files)):
        actual = hashlib.sha256(files[name]).hexdigest()
        if actual != sums[name]:
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
    return VerifyResult(files=len(files) + 1, problems=problems)


def verify_bundle(path: Path) -> VerifyResult:
    """Raise BundleError listing every problem; return the result when the bundle is intact."""
    result = verify_entries(read_bundle(path))
    if result.problems:
        listing = "\n  - ".join(result.problems)
        raise BundleError(
            f"bundle {path} does not verify ({len(result.problems)} problem(s)):\n  - {listing}",
            hint="rebuild the bundle with `edgekit bundle`, or find who changed it",
        )
    return result
