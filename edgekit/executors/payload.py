"""Folders as bytes: how a Ray task gets its inputs and gives back its outputs.

A task needs no file system shared with the `edgekit convert` process: the reference and the
artifacts travel through Ray's object store as uncompressed tar archives (model files hardly
compress), and the run folder is written only by the process that owns it.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def pack(entries: dict[str, Path]) -> bytes:
    """A tar archive of ENTRIES (name in the archive → file or folder on disk), in a stable order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in entries.items():
            tar.add(path, arcname=name, recursive=False)
            if path.is_dir():
                for child in sorted(path.rglob("*")):
                    tar.add(child, arcname=f"{name}/{child.relative_to(path).as_posix()}", recursive=False)
    return buf.getvalue()


def pack_folder(folder: Path) -> bytes:
    """FOLDER's contents, with names relative to it."""
    return pack({child.name: child for child in sorted(folder.iterdir())})


def unpack(data: bytes, dest: Path) -> Path:
    """Extract DATA into DEST (created); members that would land outside DEST are refused."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        tar.extractall(dest, filter="data")
    return dest
