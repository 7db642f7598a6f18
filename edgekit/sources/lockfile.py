"""edgekit.lock: canonical handle → the exact bytes it stands for.

A JSON file beside the recipe, like a package lockfile: for each pulled source, the sha256 of the
archive that was downloaded and of every file of the unpacked module, plus, for handles written
without a version, the version they resolved to. Later runs verify against it and refuse any
difference; `--accept-new-hash` re-records. Keys are sorted so the file diffs cleanly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import IntegrityError, UsageError
from edgekit.filelock import FileLock
from edgekit.fsutil import atomic_write_text

FORMAT = 1
ACCEPT_HINT = "if the publisher really changed these bytes, accept them with --accept-new-hash (recorded in the lockfile)"


@dataclass
class LockEntry:
    archive_sha256: str
    files: dict[str, str]
    unsafe_ops_allowed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"archive_sha256": self.archive_sha256, "files": dict(sorted(self.files.items()))}
        if self.unsafe_ops_allowed:
            d["unsafe_ops_allowed"] = sorted(self.unsafe_ops_allowed)
        return d

    @classmethod
    def from_json(cls, d: Any, where: str) -> LockEntry:
        if (
            not isinstance(d, dict)
            or not isinstance(d.get("archive_sha256"), str)
            or not isinstance(d.get("files"), dict)
        ):
            raise UsageError(
                f"{where}: an entry needs archive_sha256 and files",
                hint="delete the entry and run `edgekit pull` again",
            )
        return cls(
            d["archive_sha256"],
            {str(k): str(v) for k, v in d["files"].items()},
            list(d.get("unsafe_ops_allowed", [])),
        )


class Lockfile:
    def __init__(
        self, path: Path, entries: dict[str, LockEntry] | None = None, resolved: dict[str, str] | None = None
    ) -> None:
        self.path = Path(path)
        self.entries = entries or {}
        self.resolved = resolved or {}  # unpinned canonical → pinned canonical

    @classmethod
    def load(cls, path: Path) -> Lockfile:
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"{path} is not a valid edgekit lockfile: {exc}",
                hint="fix it, or delete it and run `edgekit pull` to recreate it",
            ) from None
        if not isinstance(raw, dict) or raw.get("edgekit_lock") != FORMAT:
            raise UsageError(
                f"{path}: not an edgekit lockfile of format {FORMAT}",
                hint="delete it and run `edgekit pull` to recreate it",
            )
        sources = raw.get("sources", {})
        entries = {k: LockEntry.from_json(v, f"{path}: {k}") for k, v in sources.items()}
        return cls(path, entries, {str(k): str(v) for k, v in raw.get("resolved", {}).items()})

    def get(self, canonical: str) -> LockEntry | None:
        return self.entries.get(canonical)

    def resolved_for(self, unpinned: str) -> str | None:
        return self.resolved.get(unpinned)

    def to_json(self) -> dict[str, Any]:
        return {
            "edgekit_lock": FORMAT,
            "sources": {k: self.entries[k].to_json() for k in sorted(self.entries)},
            "resolved": dict(sorted(self.resolved.items())),
        }

    def record(self, canonical: str, entry: LockEntry, *, resolved_from: str | None, lock_dir: Path) -> None:
        """Add or replace CANONICAL and save, merging with what other processes wrote meanwhile."""
        key = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
        with FileLock(lock_dir / f"lockfile-{key}.lock"):
            current = Lockfile.load(self.path)
            current.entries[canonical] = entry
            if resolved_from:
                current.resolved[resolved_from] = canonical
            atomic_write_text(self.path, json.dumps(current.to_json(), indent=2) + "\n")
        self.entries, self.resolved = current.entries, current.resolved


def check_locked(
    canonical: str, locked: LockEntry, archive_sha256: str, files: dict[str, str], lock_path: Path
) -> None:
    """Refuse bytes that differ from the lockfile, naming both hashes."""
    if archive_sha256 != locked.archive_sha256:
        raise IntegrityError(
            f"{canonical}: archive sha256 is {archive_sha256} but {lock_path} records {locked.archive_sha256}",
            hint=ACCEPT_HINT,
        )
    if files != locked.files:
        diffs = []
        for name in sorted(set(files) | set(locked.files)):
            if files.get(name) != locked.files.get(name):
                diffs.append(
                    f"{name}: have {files.get(name, 'missing')}, lockfile {locked.files.get(name, 'missing')}"
                )
        raise IntegrityError(
            f"{canonical}: module files differ from {lock_path}: "
            + "; ".join(diffs[:5])
            + (" ..." if len(diffs) > 5 else ""),
            hint=ACCEPT_HINT,
        )
