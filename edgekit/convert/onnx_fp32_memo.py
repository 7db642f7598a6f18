"""One tf2onnx export per reference and opset in a conversion process, shared by every ONNX quant mode.

Each ONNX quant mode starts from the same fp32 export (edgekit/convert/onnx.py). Exporting it
again for fp16, dynamic-int8 and int8 repeated the slowest part of an ONNX conversion three times.
The export is kept in a folder of this process's own in the system's temporary directory, keyed by
the SavedModel's path, the size and mtime of its files, and the opset; the folder is removed when
the process exits, and a later process removes the folders of processes that no longer exist (a
worker stopped for going over the memory limit cannot clean up after itself).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgekit.convert.onnx_export import export_fp32

PREFIX = "edgekit-onnx-fp32-"


@dataclass
class _Export:
    path: Path
    warnings: list[str]


_folder: Path | None = None
_exports: dict[tuple, _Export] = {}


def exported_fp32(saved_model: Path, opset: int, warnings: list[str]) -> Path:
    """The fp32 ONNX export of SAVED_MODEL at OPSET, made on first use in this process.

    The export's warnings are added to WARNINGS every time, so each mode's artifact records them.
    Callers only read the returned file (and the external data file beside it, if any).
    """
    key = (_fingerprint(saved_model), opset)
    export = _exports.get(key)
    if export is None or not export.path.is_file():
        _exports.clear()  # one reference at a time: a new one replaces the last
        folder = _process_folder()
        for old in folder.iterdir():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        # a folder of its own for each export, so that no later export can overwrite a remembered file
        target = Path(tempfile.mkdtemp(prefix=f"opset{opset}-", dir=folder)) / "fp32.onnx"
        exported: list[str] = []
        export_fp32(saved_model, opset, target, exported)
        export = _exports[key] = _Export(target, exported)
    warnings.extend(w for w in export.warnings if w not in warnings)
    return export.path


def _fingerprint(saved_model: Path) -> tuple:
    files = sorted(p for p in saved_model.rglob("*") if p.is_file())
    return (str(saved_model.resolve()), *((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


def _process_folder() -> Path:
    global _folder
    if _folder is None or not _folder.is_dir():
        _remove_orphans()
        _folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def _remove_orphans() -> None:
    """Remove the folders of conversion processes that have gone without removing them."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
