"""ONNX quantization of large models in a process of its own (`python -m edgekit.convert.onnx_quant_apart`).

The conversion process has TensorFlow imported (about 0.6 GB) and keeps heap that the fp32 export
used. ONNX Runtime's quantization tools add to that the model, the session its pre-processing
optimizes in, and float copies of the largest weight while they quantize it. For fp32 models whose
files exceed APART_BYTES, the int8 modes therefore run in a fresh process that imports only onnx
and onnxruntime (about 0.1 GB) and gives all of it back when it ends. It runs the very functions of
onnx_quant, on the same files in the same temporary folder, with onnxruntime's quantize_nparray
going through large weights in slices (_quantize_in_chunks), so the result is the same file, byte
for byte. The process is the conversion's child: the memory limit counts it with its parent, and a
stopped conversion takes it with it.

Smaller models are quantized in the conversion process: starting a process and reading the model
again would cost more time than memory saved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.convert import onnx_external, onnx_lean
from edgekit.convert.onnx_quant import QUANTIZERS
from edgekit.errors import ConversionError

# fp32 models whose files (model and external data) exceed this are quantized apart (read at call time)
APART_BYTES = 128 * 1024**2
APART_MODES = ("dynamic-int8", "int8")  # fp16 reads one weight at a time and needs no process of its own
CALIBRATION_FILE = "apart-calibration.npy"
RESULT_FILE = "apart-result.json"
STDERR_LINES = 3  # of a failed process, in its error message
# elements of one weight quantized at a time in that process (passed to it: tests lower it)
QUANTIZE_CHUNK = 1 << 22


def runs_apart(mode: str, src: Path) -> bool:
    """Whether MODE on the fp32 model at SRC runs in a process of its own (read from file sizes:
    loading a model that is one file would load its tensors)."""
    data = src.with_name(onnx_external.data_file_name(src.name))
    size = src.stat().st_size + (data.stat().st_size if data.is_file() else 0)
    return mode in APART_MODES and size > APART_BYTES


def quantize(
    mode: str, src: Path, tmp: Path, calibration: np.ndarray | None, warnings: list[str]
) -> tuple[Path, dict[str, Any]]:
    """QUANTIZERS[MODE](SRC, TMP, CALIBRATION), apart when runs_apart(); logged warnings join WARNINGS.

    Either way the quantizer's ConversionError comes out as it raised it. Apart, any other exception
    comes out as `failed_after_export` words it, and a process that ends without a result raises
    ConversionError with its exit status and the last lines it wrote to stderr.
    """
    from edgekit.convert.onnx_export import collect_warnings

    if not runs_apart(mode, src):
        with collect_warnings(("",), warnings):  # onnxruntime.quantization logs to the root logger
            return QUANTIZERS[mode](src, tmp, calibration)
    return _quantize_apart(mode, src, tmp, calibration, warnings)


def _quantize_apart(
    mode: str, src: Path, tmp: Path, calibration: np.ndarray | None, warnings: list[str]
) -> tuple[Path, dict[str, Any]]:
    from edgekit.convert.onnx_export import MAX_WARNINGS

    result = tmp / RESULT_FILE
    result.unlink(missing_ok=True)
    if calibration is not None:
        np.save(tmp / CALIBRATION_FILE, calibration, allow_pickle=False)
    onnx_lean.release_memory()  # heap this process no longer uses should not be counted beside the child
    done = subprocess.run(
        _command(mode, src, tmp), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    (tmp / CALIBRATION_FILE).unlink(missing_ok=True)
    if done.returncode != 0 or not result.is_file():
        tail = [line for line in done.stderr.splitlines() if line.strip()][-STDERR_LINES:]
        raise ConversionError(
            f"onnx {mode} quantization failed in its own process (exit status {done.returncode}): "
            + (" / ".join(tail) or "no message"),
            hint="a process killed by the system (exit status -9) ran out of memory",
        )
    outcome = json.loads(result.read_text())
    result.unlink()
    for message in outcome["warnings"]:  # as onnx_export.collect_warnings adds them in this process
        if message not in warnings and len(warnings) < MAX_WARNINGS:
            warnings.append(message)
    error = outcome.get("error")
    if error is not None:
        if error["conversion"]:
            raise ConversionError(error["message"], hint=error["hint"])
        raise failed_after_export(mode, error["type"], error["message"])
    return tmp / outcome["path"], outcome["settings"]


def _command(mode: str, src: Path, tmp: Path) -> list[str]:
    return [sys.executable, "-m", __name__, mode, str(src), str(tmp), str(QUANTIZE_CHUNK)]


def failed_after_export(mode: str, kind: str, message: str) -> ConversionError:
    """The error for an exception other than ConversionError after the fp32 export (onnxruntime and
    onnx raise plain exceptions): its type name and message are kept."""
    return ConversionError(f"onnx {mode} conversion failed after tf2onnx: {kind}: {message}")


def _quantize_in_chunks(chunk: int) -> None:
    """Make onnxruntime's quantize_nparray go through a large weight CHUNK elements at a time.

    It computes `(w.astype(float32) / scale).round() + zero_point` over the whole weight at once:
    float temporaries of the weight's size, four of VGG16's first dense kernel (411 MB each) at its
    peak. Each element's result depends only on that element, the scale and the zero point, so
    slices quantized one after another give the same values. Only arrays with one scale and one zero
    point are sliced (per-tensor weights); every other call is passed on unchanged.
    """
    import onnx
    from onnxruntime.quantization import quant_utils

    whole = quant_utils.quantize_nparray
    integer = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT16, onnx.TensorProto.UINT16}

    def in_chunks(
        qType: int, arr: Any, scale: Any, zero_point: Any, low: Any = None, high: Any = None
    ) -> Any:  # noqa: N803
        if (
            qType not in integer
            or not isinstance(arr, np.ndarray)
            or arr.size <= chunk
            or np.size(scale) != 1
            or np.size(zero_point) != 1
        ):
            return whole(qType, arr, scale, zero_point, low, high)
        flat = arr.reshape(-1)
        first = whole(qType, flat[:chunk], scale, zero_point, low, high)
        out = np.empty(flat.shape, first.dtype)
        out[:chunk] = first
        for start in range(chunk, flat.size, chunk):
            out[start : start + chunk] = whole(
                qType, flat[start : start + chunk], scale, zero_point, low, high
            )
        return out.reshape(arr.shape)

    quant_utils.quantize_nparray = in_chunks


def _main(mode: str, src: Path, tmp: Path, chunk: int) -> None:
    from edgekit.convert.onnx_export import collect_warnings

    calibration_file = tmp / CALIBRATION_FILE
    calibration = np.load(calibration_file, allow_pickle=False) if calibration_file.is_file() else None
    warnings: list[str] = []
    outcome: dict[str, Any] = {"warnings": warnings}
    try:
        _quantize_in_chunks(chunk)
        with collect_warnings(("",), warnings):  # onnxruntime.quantization logs to the root logger
            path, settings = QUANTIZERS[mode](src, tmp, calibration)
        outcome.update(path=str(path.relative_to(tmp)), settings=settings)
    except ConversionError as exc:
        outcome["error"] = {"conversion": True, "message": exc.message, "hint": exc.hint}
    except Exception as exc:  # noqa: BLE001 - reported to the conversion process, which words it
        outcome["error"] = {"conversion": False, "type": type(exc).__name__, "message": str(exc)}
    (tmp / RESULT_FILE).write_text(json.dumps(outcome))


if __name__ == "__main__":  # the quantizing process of quantize()
    _main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
