"""Unpack a model archive without trusting it.

Every entry is checked before it is written, and hostile entries are refused, never
"fixed": absolute names, `..`, links that leave the folder, device files and FIFOs, duplicate
names, and archives beyond the limits (ArchiveLimits): entry count, unpacked size and
compression ratio. Sizes are counted on the bytes actually decompressed, never on what headers
claim, so sparse files and compression bombs are caught early. Links that stay inside are
materialized as copies of files already unpacked, so the result holds only plain files and
folders. Modes from the archive are ignored (no setuid, no world-writable files).

Decompression is ours, not tarfile's: tarfile's streaming reader (`r|gz`, `r|bz2`) keeps
everything one decompress call returns and copies that buffer on every read, so a bzip2 bomb
(one 16 KB block → hundreds of MB) costs gigabytes of memory and quadratic time. gzip/bz2/lzma
file objects return at most what is asked for, so memory stays bounded by the chunk size.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import BinaryIO

from edgekit.errors import SourceError, UnsafeModelError, UsageError

_CHUNK = 1 << 16
_HINT = "this archive is not a model edgekit will unpack; check where it came from"

# Safe defaults, each overridable by an environment variable (read at each extraction) or by an
# explicit value (SourceSettings, the Python API). Real SavedModel archives hold float weights that
# compress ~1.1x; gzip cannot exceed ~1030x, and the bombs people build run at 1000x and beyond.
DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_MAX_BYTES = 16 << 30  # 16 GiB: larger than any image feature extractor
DEFAULT_MAX_RATIO = 100.0
# The ratio is judged only past this many unpacked bytes: a tiny archive of tar headers and
# empty files legitimately compresses far beyond any ratio cap.
RATIO_FLOOR_BYTES = 32 << 20
ENV_MAX_ENTRIES = "EDGEKIT_ARCHIVE_MAX_ENTRIES"
ENV_MAX_BYTES = "EDGEKIT_ARCHIVE_MAX_BYTES"
ENV_MAX_RATIO = "EDGEKIT_ARCHIVE_MAX_RATIO"


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES  # unpacked bytes, tar headers included
    max_ratio: float = DEFAULT_MAX_RATIO  # unpacked bytes / archive bytes read so far

    @classmethod
    def resolve(
        cls, max_entries: int | None = None, max_bytes: int | None = None, max_ratio: float | None = None
    ) -> ArchiveLimits:
        """Explicit values win, then the environment, then the defaults."""
        limits = cls(
            max_entries=int(
                max_entries
                if max_entries is not None
                else _env_number(ENV_MAX_ENTRIES, DEFAULT_MAX_ENTRIES, int)
            ),
            max_bytes=int(
                max_bytes if max_bytes is not None else _env_number(ENV_MAX_BYTES, DEFAULT_MAX_BYTES, int)
            ),
            max_ratio=float(
                max_ratio if max_ratio is not None else _env_number(ENV_MAX_RATIO, DEFAULT_MAX_RATIO, float)
            ),
        )
        for name, value in (
            ("max_entries", limits.max_entries),
            ("max_bytes", limits.max_bytes),
            ("max_ratio", limits.max_ratio),
        ):
            if not value > 0:
                raise UsageError(f"archive limit {name} must be positive, got {value}")
        return limits


def _env_number(name: str, default: float, kind: type) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise UsageError(
            f"{name}={raw!r} is not a positive {'integer' if kind is int else 'number'}",
            hint=f"unset it to use the default ({default:g}) or set a positive value",
        )
    return value


class _Refused(Exception):
    pass


class _Guarded:
    """The decompressed stream tarfile reads, counting every byte against the size and ratio caps.

    Counting here (not per member) also covers tar headers, padding and the data of entries that
    are skipped, so nothing in the archive can make edgekit decompress more than the caps allow.
    """

    def __init__(
        self, stream: BufferedIOBase | BinaryIO, raw: BinaryIO, limits: ArchiveLimits, compressed: bool
    ) -> None:
        self.stream, self.raw, self.limits, self.compressed = stream, raw, limits, compressed
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK  # tarfile never asks for "everything"; if it did, refuse to buffer it all
        data = self.stream.read(min(size, _CHUNK * 4))
        self.count += len(data)
        if self.count > self.limits.max_bytes:
            raise _Refused(f"unpacks to more than {self.limits.max_bytes} bytes (limit {ENV_MAX_BYTES})")
        if self.compressed and self.count > RATIO_FLOOR_BYTES:
            packed = max(1, self.raw.tell())
            if self.count / packed > self.limits.max_ratio:
                raise _Refused(
                    f"compression ratio above {self.limits.max_ratio:g} ({self.count} bytes from the first {packed}): "
                    f"a compression bomb (limit {ENV_MAX_RATIO})"
                )
        return data


def _decompressor(raw: BinaryIO) -> tuple[BufferedIOBase | BinaryIO, bool]:
    """The decompressed view of RAW, chosen by its magic bytes; (stream, is_compressed)."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb"), True
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb"), True
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb"), True
    return raw, False


class _Extractor:
    def __init__(self, archive: Path, dest: Path, limits: ArchiveLimits) -> None:
        self.archive = archive
        self.dest = dest
        self.root = ""  # the real path of DEST, once it exists
        self.limits = limits
        self.entries = 0
        self.written = 0
        self.files: dict[str, Path] = {}  # archive path → file written, for links

    def run(self) -> None:
        self.dest.mkdir(parents=True, exist_ok=True)
        self.root = os.path.realpath(self.dest)
        try:
            with open(self.archive, "rb") as raw:
                stream, compressed = _decompressor(raw)
                guarded = _Guarded(stream, raw, self.limits, compressed)
                # Stream mode over the already-decompressed bytes: one pass, no member index held
                # in memory, and tarfile's own buffer stays one record (10 KB) long.
                with tarfile.open(fileobj=guarded, mode="r|") as tar:  # type: ignore[call-overload]
                    for member in tar:
                        self._entry(tar, member)
        except _Refused as why:
            raise UnsafeModelError(f"archive {self.archive.name} refused: {why}", hint=_HINT) from None
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
            if isinstance(exc, OSError) and not _is_format_error(exc):
                raise SourceError(
                    f"cannot unpack {self.archive.name}: {exc}",
                    hint="check free space and permissions of the cache folder",
                ) from exc
            raise SourceError(
                f"archive {self.archive.name} is corrupt or not a tar archive: {exc}",
                hint="the download may be damaged: run again; if it persists the published file is broken",
            ) from None

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise _Refused(f"more than {self.limits.max_entries} entries (limit {ENV_MAX_ENTRIES})")
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
            kind = {
                tarfile.CHRTYPE: "character device",
                tarfile.BLKTYPE: "block device",
                tarfile.FIFOTYPE: "FIFO",
            }.get(member.type, f"entry of type {member.type!r}")
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
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        )
        try:
            fd = os.open(target, flags, 0o644)
        except FileExistsError:
            raise _Refused(f"{rel!r} is given twice") from None
        count = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                count += len(chunk)
                self.written += len(chunk)
                if self.written > self.limits.max_bytes:  # links are copies: they count too
                    raise _Refused(
                        f"unpacks to more than {self.limits.max_bytes} bytes (stopped at {rel!r}; limit {ENV_MAX_BYTES})"
                    )
                out.write(chunk)
        if count != declared:
            raise SourceError(
                f"archive {self.archive.name}: {rel!r} declares {declared} bytes but holds {count}"
            )
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
    # gzip raises BadGzipFile and bz2 a plain OSError("Invalid data stream") for a damaged
    # stream; real I/O errors (disk full, permissions) must propagate as such.
    text = str(exc).lower()
    return isinstance(exc, gzip.BadGzipFile) or any(
        w in text for w in ("compressed", "end of stream", "invalid data stream")
    )


def safe_extract(
    archive: Path,
    dest: Path,
    *,
    max_entries: int | None = None,
    max_bytes: int | None = None,
    max_ratio: float | None = None,
) -> None:
    """Unpack ARCHIVE (tar, tar.gz, tar.bz2, tar.xz) into DEST, refusing anything unsafe.

    A limit left as None comes from its environment variable (EDGEKIT_ARCHIVE_MAX_ENTRIES,
    EDGEKIT_ARCHIVE_MAX_BYTES, EDGEKIT_ARCHIVE_MAX_RATIO), else from the defaults above.
    """
    _Extractor(Path(archive), Path(dest), ArchiveLimits.resolve(max_entries, max_bytes, max_ratio)).run()


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
