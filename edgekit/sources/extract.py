"""Unpack a model archive without trusting it.

Every entry is checked before it is written, and hostile entries are refused, never
"fixed": absolute names, `..`, links that leave the folder, device files and FIFOs, duplicate
names, and archives whose entry count or unpacked size (counted on the bytes actually written,
so sparse files and compression bombs are caught) exceed the caps. Links that stay inside are
materialized as copies of files already unpacked, so the result holds only plain files and
folders. Modes from the archive are ignored (no setuid, no world-writable files).
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import zlib
from pathlib import Path

from edgekit.errors import SourceError, UnsafeModelError

_CHUNK = 1 << 16
_HINT = "this archive is not a model edgekit will unpack; check where it came from"


class _Refused(Exception):
    pass


class _Extractor:
    def __init__(self, archive: Path, dest: Path, max_entries: int, max_bytes: int) -> None:
        self.archive = archive
        self.dest = dest
        self.root = ""  # the real path of DEST, once it exists
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries = 0
        self.written = 0
        self.files: dict[str, Path] = {}  # archive path → file written, for links

    def run(self) -> None:
        self.dest.mkdir(parents=True, exist_ok=True)
        self.root = os.path.realpath(self.dest)
        try:
            # Stream mode: one pass, no member index held in memory for huge archives.
            with tarfile.open(self.archive, mode="r|*") as tar:
                for member in tar:
                    self._entry(tar, member)
        except _Refused as why:
            raise UnsafeModelError(f"archive {self.archive.name} refused: {why}", hint=_HINT) from None
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, OSError) and not _is_format_error(exc):
                raise SourceError(
                    f"cannot unpack {self.archive.name}: {exc}", hint="check free space and permissions of the cache folder"
                ) from exc
            raise SourceError(
                f"archive {self.archive.name} is corrupt or not a tar archive: {exc}",
                hint="the download may be damaged: run again; if it persists the published file is broken",
            ) from None

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise _Refused(f"more than {self.max_entries} entries")
        parts = _safe_parts(member.name)
        if not parts:
            return  # the archive's own root, "./"
        rel = "/".join(parts)
        target = self.dest.joinpath(*parts)
        if member.isdir():
            self._mkdir(target, rel)
        elif member.isreg():
            self._write(target, rel, tar.extractfile(member), member.size)
        elif member.issym() or member.islnk():
            self._link(target, rel, member)
        else:
            kind = {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "FIFO"}.get(
                member.type, f"entry of type {member.type!r}"
            )
            raise _Refused(f"{rel!r} is a {kind}")

    def _check_inside(self, path: Path, rel: str) -> None:
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise _Refused(f"{rel!r} resolves outside the extraction folder")

    def _mkdir(self, target: Path, rel: str) -> None:
        self._check_inside(target.parent, rel)
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            raise _Refused(f"{rel!r} is given twice (as a folder and a file)")
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._check_inside(target, rel)

    def _write(self, target: Path, rel: str, src, declared: int) -> None:
        if target.parent != self.dest:
            self._mkdir(target.parent, rel)
        self._check_inside(target.parent, rel)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(target, flags, 0o644)
        except FileExistsError:
            raise _Refused(f"{rel!r} is given twice") from None
        count = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                count += len(chunk)
                self.written += len(chunk)
                if self.written > self.max_bytes:
                    raise _Refused(f"unpacks to more than {self.max_bytes} bytes (stopped at {rel!r})")
                out.write(chunk)
        if count != declared:
            raise SourceError(f"archive {self.archive.name}: {rel!r} declares {declared} bytes but holds {count}")
        self.files[rel] = target

    def _link(self, target: Path, rel: str, member: tarfile.TarInfo) -> None:
        link = member.linkname
        if not link or link.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", link):
            raise _Refused(f"{rel!r} links to the absolute path {link!r}")
        if member.issym():  # relative to the link's own folder
            joined = os.path.normpath(os.path.join(os.path.dirname(rel), link.replace("\\", "/")))
        else:  # hard links name another archive member
            joined = os.path.normpath(link.replace("\\", "/"))
        joined = joined.replace(os.sep, "/")
        if joined == ".." or joined.startswith("../") or os.path.isabs(joined):
            raise _Refused(f"{rel!r} links outside the archive ({link!r})")
        source = self.files.get("/".join(p for p in joined.split("/") if p not in ("", ".")))
        if source is None:
            raise _Refused(f"{rel!r} links to {link!r}, which is not a file earlier in the archive")
        with open(source, "rb") as src:
            self._write(target, rel, src, source.stat().st_size)


def _safe_parts(name: str) -> list[str]:
    if "\x00" in name:
        raise _Refused(f"entry name {name!r} contains a NUL byte")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise _Refused(f"{name!r} is an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused(f"{name!r} contains '..'")
    return parts


def _is_format_error(exc: OSError) -> bool:
    # gzip raises BadGzipFile (an OSError) for a damaged stream; real I/O errors must propagate.
    import gzip

    return isinstance(exc, gzip.BadGzipFile) or "compressed" in str(exc).lower() or "end of stream" in str(exc).lower()


def safe_extract(archive: Path, dest: Path, *, max_entries: int = 20_000, max_bytes: int = 16 << 30) -> None:
    """Unpack ARCHIVE (tar, tar.gz, tar.bz2, tar.xz) into DEST, refusing anything unsafe."""
    _Extractor(Path(archive), Path(dest), max_entries, max_bytes).run()


def find_module_root(folder: Path, *, what: str) -> Path:
    """The SavedModel folder inside an unpacked archive: its root, or its single top folder."""
    if (folder / "saved_model.pb").is_file():
        return folder
    children = [p for p in folder.iterdir()]
    if len(children) == 1 and children[0].is_dir() and (children[0] / "saved_model.pb").is_file():
        return children[0]
    listing = ", ".join(sorted(p.name for p in children)[:10]) or "nothing"
    raise SourceError(
        f"{what} holds no SavedModel (no saved_model.pb at its root); it holds: {listing}",
        hint="edgekit needs a TensorFlow SavedModel; for Kaggle pick the tensorFlow2 variation",
    )


def move_module(root: Path, dest: Path) -> None:
    """Move the module found at ROOT to DEST (same file system), dropping anything around it."""
    os.replace(root, dest)
    if root.parent != dest.parent:
        shutil.rmtree(root.parent, ignore_errors=True)
