"""The C++ part of a large model's TFLite conversion, in a short-lived process that holds nothing else.

TensorFlow's converter does its work in one C++ call (`_pywrap_converter_api.Convert`): it loads
the SavedModel, imports it into MLIR, optimises it and writes the flatbuffer. For VGG16 (537 MB of
weights) that call alone holds about 4x the weights at its peak, and glibc keeps much of it after
the call returns. The call needs only the converter's own extension module: a process that loads
that module (not the whole `tensorflow` package, about 0.25 GB less) runs it on the very flags
TensorFlow's Python side serialised, writes the flatbuffer to a file and ends, giving everything
back; the worker reads the flatbuffer and TensorFlow's Python side goes on with it as usual
(quantization, buffer deduplication, metadata). The bytes are those the in-process call returns
(tests/convert/test_tflite_apart.py). If the process fails for any reason, the conversion is done
again in the worker the ordinary way, so a converter error reads as it always did.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# SavedModels with more variable bytes than this convert apart (edgekit/convert/onnx_export.py's bound)
CONVERT_APART_BYTES = 128 * 1024**2

# The process: load the converter module by path (no `import tensorflow`), convert, write the bytes.
CHILD = """
import importlib.util, sys
from pathlib import Path
def extension(path):
    spec = importlib.util.spec_from_file_location(Path(path).name.split(".")[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
function_lib, api, folder = extension(sys.argv[1]), extension(sys.argv[2]), Path(sys.argv[3])
# the arguments of TensorFlow's wrap_converter.wrapped_convert: no input data, extended_return False,
# no debug info argument (it travels in the converter flags), and a function library (the base class
# of TensorFlow's Python one: only the TF quantizer, which these conversions do not run, calls it)
flags = [(folder / name).read_bytes() for name in ("model_flags.pb", "converter_flags.pb")]
model = api.Convert(*flags, None, False, None, function_lib.PyFunctionLibrary())
with open(folder / "model.tflite.tmp", "wb") as out:
    out.write(model)
del model
(folder / "model.tflite.tmp").rename(folder / "model.tflite")
"""


def variables_bytes(saved_model: Path) -> int:
    return sum(f.stat().st_size for f in (saved_model / "variables").glob("*") if f.is_file())


def convert_in_child(model_flags: bytes, converter_flags: bytes, folder: Path) -> bytes | None:
    """The Convert call's bytes, from a process of its own; None if that process failed."""
    from tensorflow.compiler.mlir.lite.python import _pywrap_converter_api
    from tensorflow.compiler.mlir.quantization.tensorflow.python import pywrap_function_lib

    (folder / "model_flags.pb").write_bytes(model_flags)
    (folder / "converter_flags.pb").write_bytes(converter_flags)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            pywrap_function_lib.__file__,
            _pywrap_converter_api.__file__,
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result = folder / "model.tflite"
    if done.returncode != 0 or not result.is_file():
        return None
    data = result.read_bytes()
    result.unlink()
    return data


@contextlib.contextmanager
def converts_apart() -> Iterator[None]:
    """While converting: TensorFlow's convert_saved_model runs its C++ call in a process of its own."""
    from tensorflow.lite.python import convert, lite

    original = lite._convert_saved_model  # noqa: SLF001

    def convert_saved_model(**kwargs: Any) -> Any:
        model_flags = convert.build_model_flags(**kwargs).SerializeToString()
        converter_flags = convert.build_conversion_flags(**kwargs).SerializeToString()
        with tempfile.TemporaryDirectory(prefix="edgekit-tflite-") as tmp:
            data = convert_in_child(model_flags, converter_flags, Path(tmp))
        if data is None:  # the ordinary way, in this process: its error (or its model) as always
            return original(**kwargs)
        return data

    lite._convert_saved_model = convert_saved_model  # noqa: SLF001
    try:
        yield
    finally:
        lite._convert_saved_model = original  # noqa: SLF001
