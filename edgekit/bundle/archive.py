"""Deterministic .tar.gz / .zip writing, and reading any bundle (archive or extracted folder).

Determinism rules: entries sorted by name; every mtime = SOURCE_DATE_EPOCH (or 0); owner and
group 0 with empty names; mode 0644; regular files only (no directory entries); gzip header with
no file name and mtime 0; fixed compression level. The bytes then depend only on the contents,
not on umask, time zone, file creation order or who ran it.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import BundleError, UsageError

ZIP_EPOCH_MIN = 315532800  # 1980-01-01T00:00:00Z: the earliest time a zip entry can hold


def source_date_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise UsageError(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {raw!r}",
            hint="e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
        )
    return int(raw)


def archive_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if name.endswith(".zip"):
        return "zip"
    raise UsageError(f"bundle file {path} must end in .tar.gz, .tgz or .zip", hint="e.g. --out bundle.tar.gz")


def tar_gz_bytes(files: dict[str, bytes], mtime: int) -> bytes:
    out = io.BytesIO()
    # The tar stream goes straight into gzip (the same bytes as compressing a finished tar at once,
    # without holding the uncompressed archive: bundles of multi-GB models stay within memory).
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(files):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(files[name]), mtime, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()


def zip_bytes(files: dict[str, bytes], mtime: int) -> bytes:
    stamp = time.gmtime(max(mtime, ZIP_EPOCH_MIN))[:6]  # gmtime: independent of the time zone
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.create_system = zipfile.ZIP_DEFLATED, 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, files[name], compresslevel=9)
    return out.getvalue()


@dataclass
class Entry:
    name: str
    kind: str  # file | symlink | dir | other
    data: bytes | None = None
    link: str | None = None


def _read_tar(path: Path) -> list[Entry]:
    with tarfile.open(path, "r:*") as tar:
        return _tar_entries(tar)


def _tar_entries(tar: tarfile.TarFile) -> list[Entry]:
    entries = []
    for m in tar.getmembers():
        fileobj = tar.extractfile(m) if m.isfile() else None
        if fileobj is not None:  # every regular file member has one
            entries.append(Entry(m.name, "file", fileobj.read()))
        elif m.issym() or m.islnk():
            entries.append(Entry(m.name, "symlink", link=m.linkname))
        else:
            entries.append(Entry(m.name, "dir" if m.isdir() else "other"))
    return entries


def _read_zip(path: Path) -> list[Entry]:
    entries = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                entries.append(Entry(info.filename, "symlink", link=zf.read(info).decode(errors="replace")))
            elif info.is_dir():
                entries.append(Entry(info.filename.rstrip("/"), "dir"))
            else:
                entries.append(Entry(info.filename, "file", zf.read(info)))
    return entries


def _read_folder(root: Path) -> list[Entry]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                entries.append(Entry(rel, "symlink", link=os.readlink(p)))
            elif p.is_file():
                entries.append(Entry(rel, "file", p.read_bytes()))
            elif not p.is_dir():
                entries.append(Entry(rel, "other"))
    return entries


def read_bundle(path: Path) -> list[Entry]:
    """Every entry of a bundle archive, or of a folder it was extracted into."""
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise UsageError(
            f"bundle {path} does not exist",
            hint="pass a .tar.gz/.zip written by `edgekit bundle`, or its extracted folder",
        )
    try:
        return _read_tar(path) if archive_kind(path) == "tar.gz" else _read_zip(path)
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        OSError,
        EOFError,
        zlib.error,
    ) as exc:  # zlib: damaged gzip data
        raise BundleError(f"bundle {path} is not a readable {archive_kind(path)} archive: {exc}") from exc


def read_bundle_bytes(data: bytes, name: str) -> list[Entry]:
    """Every entry of a bundle archive held in memory (a fetched release is checked before it is
    written anywhere); NAME gives the archive kind (.tar.gz/.zip) and names it in errors."""
    try:
        if archive_kind(Path(name)) == "zip":
            return _read_zip(io.BytesIO(data))  # type: ignore[arg-type]  # ZipFile reads file objects too
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            return _tar_entries(tar)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"bundle {name} is not a readable archive: {exc}") from exc
