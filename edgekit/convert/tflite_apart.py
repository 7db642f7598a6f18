"""The C++ steps of a large model's TFLite conversion, each in a short-lived process holding nothing else.

TensorFlow's converter does its heavy work in C++ calls that take bytes and return bytes: the
conversion itself (`_pywrap_converter_api.Convert`: load the SavedModel, import it into MLIR,
optimise, write the flatbuffer), and for full-integer modes the step that adds intermediate
tensors (`AddIntermediateTensors`) and the MLIR quantizer (`ExperimentalMlirQuantizeModel`). For
VGG16 (537 MB of weights) the conversion call alone holds about 4x the weights at its peak, and
glibc keeps much of it after the call returns. Each call needs only its own extension module: a
process that loads that module (not the whole `tensorflow` package, about 0.25 GB less) runs it
on the very arguments TensorFlow's Python side prepared, writes the result to a file and ends,
giving everything back. The worker reads the result and TensorFlow's Python side goes on with it
as usual. The bytes are those the in-process call returns (tests/convert/test_tflite_lean.py). If
the process fails for any reason, the call is made again in the worker, so a converter error
reads as it always did.
"""

from __future__ import annotations

import contextlib
import pickle
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgekit.convert.tflite_lean import release_memory
from edgekit.convert.tflite_stage_calls import FILE_ARGUMENT, read_result, stage_folder, staged_call

# SavedModels with more variable bytes than this convert apart (edgekit/convert/onnx_export.py's bound)
CONVERT_APART_BYTES = 128 * 1024**2

# The process: load the extension modules by path (no `import tensorflow`), make the call, write the
# bytes. An argument FUNCTION_LIBRARY stands for an instance of the first module's PyFunctionLibrary,
# (FILE_ARGUMENT, name) for the bytes of a file beside call.pkl, or at an absolute path (every
# bytes-like argument: a model is written without a copy, and the extension modules take bytes, never
# a bytearray).
FUNCTION_LIBRARY = "edgekit:function-library"
CHILD = """
import importlib.util, pickle, sys
from pathlib import Path
folder = Path(sys.argv[1])
paths, function, args = pickle.loads((folder / "call.pkl").read_bytes())
modules = []
for path in paths:
    spec = importlib.util.spec_from_file_location(Path(path).name.split(".")[0], path)
    modules.append(importlib.util.module_from_spec(spec))
    spec.loader.exec_module(modules[-1])
def argument(a):
    if a == FUNCTION_LIBRARY:
        return modules[0].PyFunctionLibrary()
    if isinstance(a, tuple) and len(a) == 2 and a[0] == FILE_ARGUMENT:
        return (folder / a[1]).read_bytes()
    return a
args = [argument(a) for a in args]
del spec
result = getattr(modules[-1], function)(*args)
del args
with open(folder / "result.tmp", "wb") as out:
    out.write(result)
del result
(folder / "result.tmp").rename(folder / "result")
""".replace("FUNCTION_LIBRARY", repr(FUNCTION_LIBRARY)).replace("FILE_ARGUMENT", repr(FILE_ARGUMENT))


def variables_bytes(saved_model: Path) -> int:
    return sum(f.stat().st_size for f in (saved_model / "variables").glob("*") if f.is_file())


def module_paths(modules: list[Any]) -> list[str]:
    """The files CHILD loads MODULES (extension modules) from, in order."""
    return [m.__file__ for m in modules]


def call_to_file(paths: list[str], function: str, args: list[Any], result: Path) -> bool:
    """Write the bytes of FUNCTION(*ARGS), from the last of the extension modules at PATHS, to RESULT,
    called in a process of its own. False if that process failed (RESULT is then not written)."""
    with tempfile.TemporaryDirectory(prefix="edgekit-tflite-") as tmp:
        folder = Path(tmp)
        passed = []
        for i, arg in enumerate(args):
            if isinstance(arg, (bytes, bytearray, memoryview)):
                (folder / f"arg{i}").write_bytes(arg)
                arg = (FILE_ARGUMENT, f"arg{i}")
            passed.append(arg)
        (folder / "call.pkl").write_bytes(pickle.dumps((paths, function, passed)))
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if done.returncode != 0 or not (folder / "result").is_file():
            return False
        (folder / "result").replace(result)
        return True


def call_in_child(
    modules: list[Any], function: str, args: list[Any], mutable: bool = False
) -> bytes | bytearray | None:
    """MODULES[-1].FUNCTION(*ARGS)'s bytes (a bytearray if MUTABLE), called in a process of its own;
    None if that process failed. MODULES are extension modules (loaded there by their files, in order).
    In a stage process (edgekit/convert/tflite_stages.py) the worker makes the call (tflite_stage_calls.py)."""
    folder = stage_folder()
    if folder is not None:
        return staged_call(folder, module_paths(modules), function, args, mutable)
    with tempfile.TemporaryDirectory(prefix="edgekit-tflite-") as tmp:
        result = Path(tmp) / "result"
        if not call_to_file(module_paths(modules), function, args, result):
            return None
        return read_result(result, mutable)


def _apart(
    call: Callable[..., Any],
    modules: Callable[[], list[Any]],
    function: str,
    args: list[Any],
    mutable: bool = False,
) -> Any:
    data = call_in_child(modules(), function, args, mutable)
    return call() if data is None else data


def convert_modules() -> list[Any]:
    """The extension modules TensorFlow's C++ conversion call (`Convert`) needs, in loading order."""
    from tensorflow.compiler.mlir.lite.python import _pywrap_converter_api
    from tensorflow.compiler.mlir.quantization.tensorflow.python import pywrap_function_lib

    return [pywrap_function_lib, _pywrap_converter_api]


def convert_args(model_flags: bytes, converter_flags: bytes, input_data: Any, debug_info: Any) -> list[Any]:
    """`Convert`'s arguments as wrap_converter.wrapped_convert passes them: extended_return False, and a
    function library (only the TF quantizer, which these conversions do not run, calls it)."""
    return [model_flags, converter_flags, input_data, False, debug_info, FUNCTION_LIBRARY]


def needs_intermediate_tensors(model: Any) -> bool:
    """Does TensorFlow's AddIntermediateTensors change MODEL (a .tflite's bytes)? Only recurrent
    operators (LSTMs) get intermediate tensors; for any other model the call returns the same model,
    packed again. An operator this cannot name counts as one that may."""
    from ai_edge_litert import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    root = schema.Model.GetRootAs(model, 0)
    for i in range(root.OperatorCodesLength()):
        op = root.OperatorCodes(i)
        name = names.get(max(op.BuiltinCode(), op.DeprecatedBuiltinCode()), "")
        if not name or name == "CUSTOM" or "LSTM" in name or "RNN" in name:
            return True
    return False


@contextlib.contextmanager
def converts_apart(quant: str, quantize: Callable[..., Any] | None = None) -> Iterator[None]:
    """While converting QUANT: TensorFlow's C++ conversion and quantization calls run in processes of
    their own; the MLIR quantizer's call is QUANTIZE(*its arguments) if given (it makes its own)."""
    from tensorflow.compiler.mlir.lite.python import wrap_converter
    from tensorflow.lite.python.optimize import _pywrap_tensorflow_lite_calibration_wrapper as calibration
    from tensorflow.lite.python.optimize import calibrator

    originals = {
        "convert": wrap_converter.wrapped_convert,
        "quantize": wrap_converter.wrapped_experimental_mlir_quantize,
        "intermediates": calibrator.add_intermediate_tensors,
        "calibrator": calibrator.Calibrator,
    }

    def wrapped_convert(model_flags: bytes, converter_flags: bytes, input_data: Any, debug_info: Any) -> Any:
        args = convert_args(model_flags, converter_flags, input_data, debug_info)
        call = lambda: originals["convert"](model_flags, converter_flags, input_data, debug_info)  # noqa: E731
        # a bytearray, so that add_intermediate_tensors can free it while TensorFlow's frames hold it
        return _apart(call, convert_modules, "Convert", args, mutable=True)

    calibrators: weakref.WeakSet[Any] = weakref.WeakSet()

    class Calibrator(originals["calibrator"]):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            calibrators.add(self)

        def calibrate(self, dataset_gen: Any) -> Any:
            if quant != "int16x8":
                return super().calibrate(dataset_gen)
            # TensorFlow's int16x8 path calibrates, drops the calibrated model it gets, and calibrates
            # again to quantize: the statistics are gathered as before, the unread model not written
            self._feed_tensors(dataset_gen, resize_input=True)
            return None

    def wrapped_quantize(*args: Any) -> Any:
        # TensorFlow's int8 path quantizes the model its calibrator made and never uses the calibrator
        # again, but keeps it to the end: its interpreter and model go before the quantizer runs
        for done in calibrators:
            done._calibrator = done._interpreter = done._model_content = None  # noqa: SLF001
            done.__dict__.pop("_lean_model", None)  # tflite_calibrate's Calibrator keeps the model here
        release_memory()
        if quantize is not None:
            return quantize(*args)
        call = lambda: originals["quantize"](*args)  # noqa: E731
        return _apart(call, convert_modules, "ExperimentalMlirQuantizeModel", list(args))

    def add_intermediate_tensors(model_content: Any) -> Any:
        if needs_intermediate_tensors(model_content):
            call = lambda: originals["intermediates"](bytes(model_content))  # noqa: E731
            result = _apart(call, lambda: [calibration], "AddIntermediateTensors", [model_content])
        else:
            result = bytes(model_content)  # the model TensorFlow's call returns, as bytes as it does
        # TensorFlow's full-integer path reads the converted model only here, then the result;
        # its frames keep the converted model until the end: emptied, it holds no memory
        if isinstance(model_content, bytearray):
            with contextlib.suppress(BufferError):
                model_content.clear()
        return result

    wrap_converter.wrapped_convert = wrapped_convert
    wrap_converter.wrapped_experimental_mlir_quantize = wrapped_quantize
    calibrator.add_intermediate_tensors = add_intermediate_tensors
    calibrator.Calibrator = Calibrator
    try:
        yield
    finally:
        calibrator.Calibrator = originals["calibrator"]
        wrap_converter.wrapped_convert = originals["convert"]
        wrap_converter.wrapped_experimental_mlir_quantize = originals["quantize"]
        calibrator.add_intermediate_tensors = originals["intermediates"]
