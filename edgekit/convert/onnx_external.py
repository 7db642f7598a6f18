"""ONNX external data: models whose tensors do not fit in one protobuf file (2 GiB).

A model whose tensor bytes exceed EXTERNAL_DATA_THRESHOLD is written as two files side by side:
`model.onnx` (the graph, a few MB) and `model.onnx.data` (every tensor of 1 KiB or more, each
aligned to 4 KiB), which the model names by a relative `location` so that ONNX Runtime finds it
when it loads the model from its path. Smaller models stay one self-contained file.

Such an artifact lists its data file in `metadata["external_data"]`, and its sha256 and size cover
both files: the sha256 is that of fsutil.sha256_tree on a folder holding exactly the model and its
data files (what `edgekit verify` recomputes for a bundled artifact folder).

Nothing here imports onnx at module level: the runtime and bundle layers import this module too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from edgekit.errors import ConversionError
from edgekit.fsutil import sha256_file

# protobuf cannot serialize a message of 2 GiB or more; the graph, names and metadata need room too.
# Read at call time, so a test can lower it to exercise the external-data path on a tiny model.
EXTERNAL_DATA_THRESHOLD = 2 * 1024**3 - 128 * 1024**2
DATA_SUFFIX = ".data"  # model.onnx -> model.onnx.data
INLINE_MAX_BYTES = 1024  # smaller tensors (shapes, scales, zero points) stay inside the model file
ALIGN = 4096  # tensor offsets in the data file, so that a runtime may map them page by page
METADATA_KEY = "external_data"  # artifact.metadata[...]: data file names, relative to the model's folder
_CHUNK = 1 << 24


def data_file_name(model_file: str) -> str:
    return model_file + DATA_SUFFIX


def _tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto of the model: initializers and attribute tensors, subgraphs included."""
    from onnx.external_data_helper import _get_all_tensors

    return iter(_get_all_tensors(model))


def tensor_bytes_of(tensor: Any) -> int:
    """One tensor's bytes from its shape and type (its data need not be loaded)."""
    import onnx

    if tensor.data_type == onnx.TensorProto.STRING:
        return sum(len(s) for s in tensor.string_data)
    count = 1
    for d in tensor.dims:
        count *= int(d)
    try:
        return count * onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        return count * 4


def tensor_bytes(model: Any) -> int:
    """The bytes of all the model's tensors, from their shapes and types."""
    return sum(tensor_bytes_of(t) for t in _tensors(model))


def needs_external_data(model: Any) -> bool:
    return tensor_bytes(model) > EXTERNAL_DATA_THRESHOLD


def locations(model: Any) -> list[str]:
    """The external data files the model names, as written in the model (relative paths)."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    return sorted({ExternalDataInfo(t).location for t in _tensors(model) if uses_external_data(t)})


def _resolve(base: Path, location: str, what: str) -> Path:
    """LOCATION inside BASE, or a ConversionError: a model may only name files beside it or below."""
    rel = PurePosixPath(location.replace("\\", "/"))
    if not location or rel.is_absolute() or ".." in rel.parts:
        raise ConversionError(
            f"{what} names external data at {location!r}, outside the model's folder",
            hint="external data files must sit beside the model file (a relative location without '..')",
        )
    path = base / rel
    if not path.is_file():
        raise ConversionError(
            f"{what} names the external data file {location!r}, which is missing from {base}",
            hint="keep the .data file beside the .onnx file it belongs to",
        )
    return path


def load_all(model: Any, base: Path, what: str) -> None:
    """Bring every external tensor into the model (for a model small enough to be one file)."""
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    for location in locations(model):
        _resolve(base, location, what)
    for t in _tensors(model):
        if uses_external_data(t):
            load_external_data_for_tensor(t, str(base))
            # unset, not DEFAULT: the same bytes as a model that never had external data
            t.ClearField("data_location")


def externalize(model: Any, base: Path, data_path: Path, what: str) -> int:
    """Move every tensor of INLINE_MAX_BYTES or more into DATA_PATH; return the file's size.

    Tensors already external (relative to BASE) are copied over in chunks, never loaded whole, so
    this costs no more memory than the model's graph. The model then names DATA_PATH by its file
    name: save the model in DATA_PATH's folder.
    """
    import onnx
    from onnx import numpy_helper
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    position = 0
    with open(data_path, "wb") as out:

        def pad() -> None:
            nonlocal position
            gap = -position % ALIGN
            out.write(b"\0" * gap)
            position += gap

        for t in _tensors(model):
            if uses_external_data(t):
                info = ExternalDataInfo(t)
                src = _resolve(base, info.location, what)
                offset = info.offset or 0
                size = src.stat().st_size
                length = info.length if info.length is not None else size - offset
                if offset + length > size:
                    raise ConversionError(
                        f"{what}: tensor {t.name!r} lies at bytes {offset}-{offset + length} of "
                        f"{info.location}, which has {size} bytes: the data file is truncated",
                        hint="convert again; the external data file was not written completely",
                    )
                pad()
                start = position
                with open(src, "rb") as fh:
                    fh.seek(offset)
                    left = length
                    while left:
                        chunk = fh.read(min(_CHUNK, left))
                        if not chunk:
                            raise ConversionError(f"{what}: {info.location} ended while reading {t.name!r}")
                        out.write(chunk)
                        left -= len(chunk)
                position += length
            else:
                if t.data_type == onnx.TensorProto.STRING:
                    continue
                if not t.HasField("raw_data"):
                    if tensor_bytes_of(t) < INLINE_MAX_BYTES:
                        continue
                    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t), t.name))
                length = len(t.raw_data)
                if length < INLINE_MAX_BYTES:
                    continue
                pad()
                start = position
                out.write(t.raw_data)
                position += length
                t.ClearField("raw_data")
            del t.external_data[:]
            t.data_location = onnx.TensorProto.EXTERNAL
            for key, value in (("location", data_path.name), ("offset", start), ("length", length)):
                entry = t.external_data.add()
                entry.key, entry.value = key, str(value)
        out.flush()
        os.fsync(out.fileno())
    return position


def save(model: Any, path: Path, base: Path, what: str) -> list[str]:
    """Save MODEL at PATH: one file when its tensors fit, else with PATH.name + ".data" beside it.

    BASE is the folder the model's current external locations (if any) are relative to. Returns
    the external data file names written ([] for a single file).
    """
    import onnx

    if needs_external_data(model):
        data = path.with_name(data_file_name(path.name))
        externalize(model, base, data, what)
        onnx.save(model, str(path))
        return [data.name]
    load_all(model, base, what)
    onnx.save(model, str(path))
    return []


def drop_payloads(model: Any) -> None:
    """Free the tensors' bytes of a model already saved: what is left describes the graph only."""
    for t in _tensors(model):
        for name in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            t.ClearField(name)


def move_into(src: Path, dest: Path) -> Path:
    """Put SRC at DEST atomically (a rename, or a copy then a rename across file systems)."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            os.replace(src, tmp)
        except OSError:  # another file system: copy, then make the copy durable before renaming it
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


# ---------------------------------------------------------------- the artifact's files


def files_sha256(folder: Path, names: Iterable[str]) -> str:
    """fsutil.sha256_tree of a folder holding exactly NAMES (relative paths), without such a folder."""
    h = hashlib.sha256()
    for rel in sorted(names, key=lambda r: PurePosixPath(r).parts):
        h.update(rel.encode() + b"\0")
        h.update(sha256_file(folder / rel).encode() + b"\n")
    return h.hexdigest()


def artifact_data_files(metadata: dict[str, Any]) -> list[str]:
    """The external data file names an artifact's metadata lists ([] for a single-file model).

    Raises ValueError for a value that is not a list of plain relative names (a damaged record).
    """
    names = metadata.get(METADATA_KEY) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"metadata {METADATA_KEY!r} must be a list of file names; got {names!r}")
    for n in names:
        parts = PurePosixPath(n).parts
        if not n or PurePosixPath(n).is_absolute() or ".." in parts:
            raise ValueError(f"metadata {METADATA_KEY!r} names {n!r}, which is not a file beside the model")
    return names


def model_data_files(path: Path) -> list[str]:
    """The external data files a bare .onnx file names, relative to its folder.

    Read with onnx when it is installed; without it, the `<file>.data` edgekit writes, if present.
    """
    try:
        import onnx
    except ImportError:
        guess = path.with_name(data_file_name(path.name))
        return [guess.name] if guess.is_file() else []
    model = onnx.load(str(path), load_external_data=False)
    return locations(model)
