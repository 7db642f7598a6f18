"""The module cache: one folder per canonical id, filled atomically, verified before each use.

Layout under the cache root ($EDGEKIT_CACHE, default ~/.cache/edgekit):

    sources/<key>/module/...      the unpacked SavedModel
    sources/<key>/entry.json      canonical id, archive sha256, per-file sha256, provenance
    sources/.<key>.*.tmp          staging of a fill in progress (or interrupted)
    sources/.locks/<key>.lock     the per-entry inter-process lock

A fill runs under the entry's lock: re-check (another process may have finished meanwhile),
download and unpack into a staging folder, write entry.json last, rename into place. The rename
is the commit: an interrupted fill leaves only a staging folder, which is never served and is
removed by the next fill of that key or by `edgekit cache prune`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import SourceError
from edgekit.filelock import FileLock
from edgekit.fsutil import atomic_dir, atomic_write_json, sha256_file

ENTRY_FORMAT = 1


@dataclass
class CacheEntry:
    key: str
    folder: Path
    meta: dict[str, Any]

    @property
    def module_dir(self) -> Path:
        return self.folder / "module"

    @property
    def canonical(self) -> str:
        return str(self.meta.get("canonical", ""))

    @property
    def archive_sha256(self) -> str:
        return str(self.meta.get("archive_sha256") or "")

    @property
    def files(self) -> dict[str, str]:
        return dict(self.meta.get("files", {}))


@dataclass
class Filled:
    entry: CacheEntry
    created: bool  # False when an existing verified entry was reused
    notes: list[str] = field(default_factory=list)


def hash_files(folder: Path) -> dict[str, str]:
    """Relative posix path → sha256 for every file below FOLDER; links are refused."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                raise SourceError(f"{p} is a symbolic link; cached modules hold only plain files")
        for name in filenames:
            p = Path(dirpath) / name
            out[p.relative_to(folder).as_posix()] = sha256_file(p)
    return dict(sorted(out.items()))


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.sources = self.root / "sources"
        self.locks = self.sources / ".locks"

    @staticmethod
    def key_for(canonical: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", canonical).strip("._")[:80]
        return f"{slug}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"

    def folder_for(self, canonical: str) -> Path:
        return self.sources / self.key_for(canonical)

    def lock(self, key: str, **kwargs: Any) -> FileLock:
        return FileLock(self.locks / f"{key}.lock", **kwargs)

    def _read(self, folder: Path) -> CacheEntry | None:
        try:
            meta = json.loads((folder / "entry.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("edgekit_cache_entry") != ENTRY_FORMAT:
            return None
        return CacheEntry(folder.name, folder, meta)

    def lookup(self, canonical: str) -> CacheEntry | None:
        """The committed entry for CANONICAL, or None. Does not verify: call verify()."""
        entry = self._read(self.folder_for(canonical))
        return entry if entry is not None and entry.canonical == canonical else None

    def verify(self, entry: CacheEntry) -> list[str]:
        """What is wrong with ENTRY's files compared with its recorded hashes (empty: intact)."""
        recorded = entry.files
        if not recorded:
            return ["entry.json records no files"]
        try:
            actual = hash_files(entry.module_dir) if entry.module_dir.is_dir() else {}
        except SourceError as exc:
            return [exc.message]
        problems = [f"missing {n}" for n in recorded if n not in actual]
        problems += [f"changed {n}" for n in recorded if n in actual and actual[n] != recorded[n]]
        problems += [f"unexpected {n}" for n in actual if n not in recorded]
        return problems

    def fill(self, canonical: str, fill: Callable[[Path], dict[str, Any]]) -> Filled:
        """The verified entry for CANONICAL, created by FILL(staging) if missing or damaged.

        FILL puts the module in staging/"module" and returns provenance for entry.json (at least
        archive_sha256). It runs at most once across processes for one canonical id.
        """
        key = self.key_for(canonical)
        with self.lock(key) as lock:
            notes = (
                [f"recovered the cache lock left by dead process {lock.recovered_from}"]
                if lock.recovered_from
                else []
            )
            self._clear_staging(key)
            existing = self.lookup(canonical)
            if existing is not None:
                problems = self.verify(existing)
                if not problems:
                    return Filled(existing, False, notes)
                notes.append(
                    f"cache entry was damaged ({', '.join(problems[:3])}); replaced it with a fresh copy"
                )
            with atomic_dir(self.sources / key) as staging:
                meta = fill(staging)
                module = staging / "module"
                if not (module / "saved_model.pb").is_file():
                    raise SourceError(f"internal: filling {canonical} produced no SavedModel")
                meta = {
                    "edgekit_cache_entry": ENTRY_FORMAT,
                    "canonical": canonical,
                    **meta,
                    "files": hash_files(module),
                    "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                }
                atomic_write_json(staging / "entry.json", meta)
        entry = self.lookup(canonical)
        if entry is None:  # only if someone deleted it between our rename and this read
            raise SourceError(
                f"cache entry for {canonical} vanished right after it was written", hint="run again"
            )
        return Filled(entry, True, notes)

    def _clear_staging(self, key: str) -> None:
        # Called with the key's lock held: any staging folder of this key belongs to a dead fill.
        for leftover in self.sources.glob(f".{key}.*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def entries(self) -> list[tuple[Path, CacheEntry | None]]:
        """Every entry folder, with its parsed entry (None when entry.json is missing or bad)."""
        if not self.sources.is_dir():
            return []
        return [
            (p, self._read(p))
            for p in sorted(self.sources.iterdir())
            if p.is_dir() and not p.name.startswith(".")
        ]

    def staging_leftovers(self) -> list[Path]:
        if not self.sources.is_dir():
            return []
        return sorted(p for p in self.sources.iterdir() if p.name.startswith(".") and p.name != ".locks")

    def prune(
        self, *, everything: bool = False, keep: set[str] | None = None, dry_run: bool = False
    ) -> list[Pruned]:
        """Remove damaged or incomplete entries and staging leftovers; optionally more.

        EVERYTHING removes every entry; KEEP (canonical ids, e.g. from lockfiles) removes the
        entries not in it. An entry whose lock is held (a pull in progress) is left alone.
        """
        out: list[Pruned] = []
        for folder, entry in self.entries():
            reason = self._prune_reason(entry, everything, keep)
            if reason:
                done = self._remove_locked(folder, folder.name, dry_run)
                out.append(
                    Pruned(
                        str(folder),
                        entry.canonical if entry else folder.name,
                        reason if done else f"kept, in use ({reason})",
                        done,
                    )
                )
        for leftover in self.staging_leftovers():
            match = _STAGING.match(leftover.name)
            key = match.group(1) if match else leftover.name
            done = self._remove_locked(leftover, key, dry_run)
            out.append(
                Pruned(
                    str(leftover),
                    key,
                    "staging leftover of an interrupted pull" if done else "kept, pull in progress",
                    done,
                )
            )
        return out

    def _prune_reason(self, entry: CacheEntry | None, everything: bool, keep: set[str] | None) -> str | None:
        if entry is None:
            return "incomplete (no valid entry.json)"
        if everything:
            return "--all"
        if keep is not None and entry.canonical.split("#", 1)[0] not in keep:
            return "not in the given lockfile(s)"
        problems = self.verify(entry)
        return f"damaged: {', '.join(problems[:3])}" if problems else None

    def _remove_locked(self, path: Path, key: str, dry_run: bool) -> bool:
        lock = self.lock(key, timeout_s=0)
        if not lock.acquire(blocking=False):
            return False
        try:
            if not dry_run:
                trash = path.with_name(f".trash-{path.name.lstrip('.')}-{os.getpid()}")
                os.replace(path, trash)
                shutil.rmtree(trash, ignore_errors=True)
            return True
        finally:
            lock.release()


_STAGING = re.compile(r"^\.(.+-[0-9a-f]{12})\.(.+)$")


@dataclass
class Pruned:
    path: str
    what: str  # canonical id, or the key of a staging leftover
    reason: str
    removed: bool  # True when removed (with dry_run: when it would be); False when in use
