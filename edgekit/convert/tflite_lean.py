"""TFLiteConverter's Python-side serialisation with the model's weights held fewer times.

After its C++ conversion, `TFLiteConverter.convert()` rewrites the flatbuffer in Python up to three
times (deduplicating read-only buffers, adding the conversion metadata, and for integer modes
changing the model's input/output types): each reads the model into flatbuffers' object API
(its buffers are views into the bytes, no copy) and packs it again with flatbuffers' Python
Builder. That Builder starts at 1 kB and doubles its bytearray as it fills (the old and the new
array both live while it copies, and the last doubling can leave it nearly twice the model),
copies every weight buffer once more to bytes before writing it (`CreateNumpyVector` calls
`tobytes`), and returns the model through two further copies (`Output()` slices, `bytes()`
copies). For VGG16 (537 MB of weights) that was about 2 GB above the model's own bytes.

`lean_serialisation()` packs with a Builder that is big enough from the start, backed by an
anonymous memory map (pages it never writes are never resident), writes each weight buffer from
the array itself, and hands the result on as a memoryview of that map. A flatbuffer does not
depend on where its builder's buffer starts (offsets and alignment count from its end), so the
bytes are the ones flatbuffers' Builder writes (tests/convert/test_tflite_lean.py compares them
with TensorFlow's own converter).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np

TFLITE_FILE_IDENTIFIER = b"TFL3"
_SLACK = 16 * 1024**2  # room for the model's non-buffer parts beyond the per-object estimate
_PER_OBJECT = 4096  # bytes allowed per tensor, operator, buffer or subgraph (names, shapes, options)


def _nbytes(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, memoryview, str, list, tuple)):
        return len(value) * 8  # a list of numbers packs to at most 8 bytes each
    return 0


def estimated_size(model: Any) -> int:
    """An upper bound of MODEL's packed size (flatbuffers' object API, schema_py_generated.ModelT)."""
    total = _SLACK
    for buffer in model.buffers or []:
        total += _nbytes(buffer.data) + _PER_OBJECT
    for subgraph in model.subgraphs or []:
        total += _PER_OBJECT + _nbytes(subgraph.name)
        for tensor in subgraph.tensors or []:
            total += (
                _PER_OBJECT + _nbytes(tensor.name) + _nbytes(tensor.shape) + _nbytes(tensor.shapeSignature)
            )
            q = tensor.quantization
            if q is not None:
                total += sum(_nbytes(getattr(q, f, None)) for f in ("min", "max", "scale", "zeroPoint"))
        for op in subgraph.operators or []:
            total += _PER_OBJECT + sum(
                _nbytes(getattr(op, f, None))
                for f in ("inputs", "outputs", "intermediates", "customOptions", "mutatingVariableInputs")
            )
    for field in ("operatorCodes", "metadata", "signatureDefs"):
        total += _PER_OBJECT * len(getattr(model, field, None) or [])
    total += _nbytes(model.description) + _nbytes(getattr(model, "metadataBuffer", None))
    return total


def _builder_class() -> type:
    import flatbuffers  # type: ignore[import-untyped]

    class LeanBuilder(flatbuffers.Builder):
        """flatbuffers.Builder over an anonymous memory map of SIZE bytes; numpy vectors written in place."""

        def __init__(self, size: int) -> None:
            super().__init__(0)
            self.Bytes = mmap.mmap(-1, size)
            self.head = size

        def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 - flatbuffers' name
            if x.ndim != 1 or x.dtype.str[0] == ">" or not x.flags.c_contiguous or x.dtype.kind not in "biuf":
                return super().CreateNumpyVector(x)  # the rare cases: as flatbuffers does them
            self.StartVector(x.itemsize, x.size, x.dtype.alignment)
            length = x.nbytes
            self.head = self.head - length
            self.Bytes[self.head : self.head + length] = x.data.cast("B")
            self.vectorNumElems = x.size
            return self.EndVector()

    return LeanBuilder


def pack(model: Any) -> memoryview:
    """MODEL (ModelT) as the TFLite flatbuffer flatbuffers' Builder writes for it, as a memoryview."""
    builder = _builder_class()(min(estimated_size(model), 2**31 - 1))
    root = model.Pack(builder)
    builder.Finish(root, file_identifier=TFLITE_FILE_IDENTIFIER)
    view = memoryview(builder.Bytes)[builder.Head() :]
    del builder
    return view


def _object_to_bytearray(model_object: Any, extra_buffer: bytes = b"") -> Any:
    """tflite/tools/flatbuffer_utils.convert_object_to_bytearray, packed by `pack`."""
    packed = pack(model_object)
    return bytes(packed) + extra_buffer if extra_buffer else packed


@contextlib.contextmanager
def lean_serialisation() -> Iterator[None]:
    """While converting: TensorFlow's Python flatbuffer rewrites pack through `pack` (same bytes).

    The converter then returns a memoryview (read it with len(), bytes() or write it to a file)."""
    from tensorflow.lite.python import util
    from tensorflow.lite.tools import flatbuffer_utils

    patches = [
        (flatbuffer_utils, "convert_object_to_bytearray", _object_to_bytearray),
        (util, "_convert_model_from_object_to_bytearray", pack),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, replacement in patches:
        setattr(module, name, replacement)
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
