"""TFLite format plugin: tf.lite.TFLiteConverter from the reference SavedModel.

Quant modes are data (QUANT_SETTINGS); one function applies them to a converter.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np

from edgekit.artifact import Artifact, TensorSpec
from edgekit.convert.base import ConversionRequest, FormatPlugin, declared_mode, register_format
from edgekit.convert.tflite_apart import CONVERT_APART_BYTES, converts_apart, variables_bytes
from edgekit.convert.tflite_calibrate import lean_calibration
from edgekit.convert.tflite_lean import lean_serialisation, release_memory
from edgekit.convert.tflite_load import loaded_once, saved_model_converter
from edgekit.convert.tflite_quantize_lean import quantize_lean
from edgekit.convert.tflite_stages import convert_in_stages, converts_in_stages, in_stage_process
from edgekit.errors import ConversionError
from edgekit.fsutil import atomic_write_bytes, sha256_file

MODEL_FILE = "model.tflite"

# mode -> what the converter needs: optimizations on?, float16 weights?, calibration?, op set
QUANT_SETTINGS = {
    "fp32": {"optimize": False, "fp16": False, "calibrate": False, "ops": "builtins"},
    "fp16": {"optimize": True, "fp16": True, "calibrate": False, "ops": "builtins"},
    "dynamic-int8": {"optimize": True, "fp16": False, "calibrate": False, "ops": "builtins"},
    "int8": {"optimize": True, "fp16": False, "calibrate": True, "ops": "int8"},
    "int16x8": {"optimize": True, "fp16": False, "calibrate": True, "ops": "int16x8"},
}
IO_TYPES = ("int8", "uint8", "float32")


def convert_tflite(request: ConversionRequest) -> Artifact:
    settings = QUANT_SETTINGS[declared_mode("tflite", request.quant, tuple(QUANT_SETTINGS))]
    if _large(request) and not request.options.get("keep_float") and converts_in_stages():
        return convert_in_stages(request, f"{__name__}:convert_tflite")  # this function, in stages
    model_bytes, kept_float = _convert_bytes(request, settings)
    path = atomic_write_bytes(request.out_dir / MODEL_FILE, model_bytes)
    size = len(model_bytes)
    del model_bytes  # the file has it; the interpreters below read the file
    if size > CONVERT_APART_BYTES:
        release_memory()  # glibc keeps the converter's freed heap otherwise, under the analyzers' own
    inputs, outputs, ops = describe_tflite(path)
    metadata = {
        "converter": "tf.lite.TFLiteConverter",
        "settings": settings,
        "io_type": inputs[0].dtype,
        "calibration_samples": len(request.calibration)
        if settings["calibrate"] and request.calibration is not None
        else 0,
        "ops": sorted(set(ops)),
        "flex_ops": sorted({op for op in ops if op.startswith("Flex")}),
        "kept_float_layers": kept_float,
    }
    if kept_float and request.options.get("int8_io", "int8") != "float32":
        metadata["notes"] = [
            "keep_float: inputs and outputs stay float32 (a mixed model needs float at its boundary)"
        ]
    if request.options.get("analyze", True):
        metadata.update(_analysis(path))
    return Artifact(
        format="tflite",
        quant=request.quant,
        path=path,
        sha256=sha256_file(path),
        size_bytes=size,
        inputs=inputs,
        outputs=outputs,
        metadata=metadata,
    )


def _convert_bytes(request: ConversionRequest, settings: dict) -> tuple[bytes | memoryview, list[str]]:
    keep_float = request.options.get("keep_float") or []
    if keep_float and request.quant == "int8":
        from edgekit.convert.tflite_debug import selective_int8

        return selective_int8(request.reference, _calibration_samples(request), keep_float)
    converter = _make_converter(request, settings)
    # calibrated modes of large models: their C++ steps each in a process of its own (tflite_apart.py);
    # the other modes peak lower converting in this process (no second process's own memory on top).
    # A stage process (tflite_stages.py) exists for large models only, and makes every call apart.
    apart = in_stage_process() or (settings["calibrate"] and _large(request))
    try:
        with (
            loaded_once(),
            lean_serialisation(),
            # int8 of a large model: calibrated without TensorFlow's calibrator's copies, quantized with
            # its largest weights standing in (tflite_calibrate.py, tflite_quantize_lean.py: the same bytes)
            lean_calibration(as_view=True) if apart and request.quant == "int8" else contextlib.nullcontext(),
            converts_apart(request.quant, quantize_lean) if apart else contextlib.nullcontext(),
        ):
            return converter.convert(), []
    except Exception as exc:  # the converter raises ConverterError and plain RuntimeErrors
        raise _conversion_error(request, exc) from None


def _large(request: ConversionRequest) -> bool:
    return variables_bytes(request.reference / "saved_model") > CONVERT_APART_BYTES


def _analysis(path: Path) -> dict:
    """Delegate coverage, recorded with the artifact; an analyzer failure is a note, not a failed artifact."""
    from edgekit.convert.tflite_analysis import gpu_compatibility, xnnpack_share

    out = {}
    for key, fn in (("xnnpack", xnnpack_share), ("gpu_delegate", gpu_compatibility)):
        try:
            out[key] = fn(path)
        except Exception as exc:  # noqa: BLE001 - experimental upstream APIs; keep the artifact
            out[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def _make_converter(request: ConversionRequest, settings: dict):
    return configure(saved_model_converter(request.reference / "saved_model"), request, settings)


def configure(converter, request: ConversionRequest, settings: dict):
    """CONVERTER (a TFLiteConverter) set up for REQUEST's quant mode, whose SETTINGS are given."""
    import tensorflow as tf

    if settings["optimize"]:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings["fp16"]:
        converter.target_spec.supported_types = [tf.float16]
    if settings["calibrate"]:
        converter.representative_dataset = _representative_dataset(request)
    ops = [_OPS[settings["ops"]](tf)]
    if request.options.get("allow_flex"):
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    if request.quant == "int8":
        io = request.options.get("int8_io", "int8")
        if io not in IO_TYPES:
            raise ConversionError(f"tflite int8_io must be one of {', '.join(IO_TYPES)}, got {io!r}")
        converter.inference_input_type = converter.inference_output_type = getattr(tf, io)
    return converter


_OPS = {
    "builtins": lambda tf: tf.lite.OpsSet.TFLITE_BUILTINS,
    "int8": lambda tf: tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
    "int16x8": lambda tf: tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
}


def _calibration_samples(request: ConversionRequest) -> np.ndarray:
    if request.calibration is None or len(request.calibration) == 0:
        # Never fall back to random data: int8 ranges from noise are silently wrong.
        raise ConversionError(
            f"tflite {request.quant} needs calibration data and none was given",
            hint="the pipeline draws it from the training split; when calling the API, pass request.calibration",
        )
    return request.calibration


def _representative_dataset(request: ConversionRequest):
    samples = _calibration_samples(request).astype(np.float32)

    def generate():
        for i in range(len(samples)):
            yield [samples[i : i + 1]]

    return generate


_OP_LIST = re.compile(r"^(TF Select ops|Flex ops|Custom ops): (.+)$", re.MULTILINE)


def _conversion_error(request: ConversionRequest, exc: Exception) -> ConversionError:
    """Turn the converter's MLIR dump into one line naming the unsupported ops."""
    text = str(exc)
    found = {kind: sorted({op.strip() for op in ops.split(",")}) for kind, ops in _OP_LIST.findall(text)}
    flex = found.get("TF Select ops", []) + found.get("Flex ops", [])
    custom = found.get("Custom ops", [])
    if flex or custom:
        parts = [f"ops outside the TFLite builtins: {', '.join(flex + custom)}"]
        if flex:
            parts.append(f"{', '.join(flex)} can run as Select TF ops (Flex), which most edge runtimes lack")
        if custom:
            parts.append(
                f"{', '.join(custom)} {'is' if len(custom) == 1 else 'are'} not even available as Select TF ops"
            )
        hint = (
            "set convert.tflite.allow_flex: true to allow Select TF ops"
            if flex and not request.options.get("allow_flex")
            else "replace these ops in the model, or register custom ops in your runtime"
        )
        return ConversionError(f"tflite {request.quant}: " + "; ".join(parts), hint=hint)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else repr(exc))
    return ConversionError(f"tflite {request.quant} conversion failed: {first[:500]}")


def describe_tflite(path: Path) -> tuple[list[TensorSpec], list[TensorSpec], list[str]]:
    """Input/output specs (with quantization) and the op names of a .tflite file."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    specs = [[_spec(d) for d in interp.get_input_details()], [_spec(d) for d in interp.get_output_details()]]
    ops = [op["op_name"] for op in interp._get_ops_details()]  # noqa: SLF001 (public API has no op list)
    return specs[0], specs[1], ops


def _spec(detail: dict) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    quantized = scale != 0.0
    return TensorSpec(
        name=detail["name"],
        shape=[int(d) for d in detail["shape"]],
        dtype=np.dtype(detail["dtype"]).name,
        scale=float(scale) if quantized else None,
        zero_point=int(zero) if quantized else None,
    )


register_format(
    FormatPlugin(
        name="tflite",
        quant_modes=tuple(QUANT_SETTINGS),
        convert=convert_tflite,
        description="TensorFlow Lite flatbuffer (LiteRT): fp32, fp16, dynamic-int8, int8, int16x8",
        default_runtime="litert",
        label="TFLite",
        model_file=MODEL_FILE,
        suffixes=(".tflite",),
        target_runtimes=("litert", "tflite-micro"),
        analysis="edgekit.targets.analysis.tflite:analyze_tflite",
        op_support="edgekit.targets.opsupport:tflite_unsupported_ops",
        describe="edgekit.bench.bare:tflite_specs",
        c_array=True,
        on_devices=True,
    ),
    aliases=("litert",),
)
