"""ONNX quant modes: each turns the fp32 tf2onnx model into the requested mode (see onnx.py).

Every function takes (fp32 model path, temp folder, calibration or None) and returns the new
model's path and the settings to record with the artifact. A model beyond the protobuf limit
(onnx_external.EXTERNAL_DATA_THRESHOLD) has its tensors in a `.data` file beside it, in and out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.artifact import TensorSpec
from edgekit.convert import onnx_external
from edgekit.errors import ConversionError

# float16 is finite up to 65504; a weight beyond it would become inf, so that tensor stays float32.
FP16_MAX = 65504.0
# Tensors this small (biases of tiny layers, clip bounds, epsilons) save nothing when halved and
# are the ones whose exact value matters most, so fp16 mode leaves them float32.
FP16_MIN_ELEMENTS = 16


def _no_calibration() -> ConversionError:
    return ConversionError(
        "onnx int8 needs calibration data, and the request has none",
        hint="give the recipe representative images for calibration; edgekit never calibrates on random data",
    )


def _specs(values: Any, initializers: set[str]) -> list[TensorSpec]:
    import onnx

    specs = []
    for v in values:
        if v.name in initializers:
            continue
        tt = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        specs.append(TensorSpec(v.name, shape, onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name))
    return specs


def _input_of(path: Path) -> tuple[str, list[int], int]:
    """The model's first input (name, shape) and its ai.onnx opset."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    spec = _specs(graph.input, {i.name for i in graph.initializer})[0]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return spec.name, spec.shape, opset


def _fp32(src: Path, tmp: Path, calibration: np.ndarray | None) -> tuple[Path, dict[str, Any]]:
    return src, {"weights": "float32", "activations": "float32"}


def _fp16(src: Path, tmp: Path, calibration: np.ndarray | None) -> tuple[Path, dict[str, Any]]:
    """float16 weights, float32 I/O and compute: Cast nodes turn each weight back into float32.

    ONNX Runtime folds these Casts at load time, so the file is about half the size while every
    kernel still runs in float32 (ONNX Runtime's CPU provider has few float16 kernels).
    """
    import onnx
    from onnx import numpy_helper

    # Weights are read one at a time from an fp32 model with external data, so memory holds the
    # float16 model and one float32 tensor, never the whole float32 model.
    model = onnx.load(str(src), load_external_data=False)
    graph = model.graph
    graph_inputs = {
        i.name for i in graph.input
    }  # an initializer that is also an input can be overridden: keep it
    casts, kept = [], []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or init.name in graph_inputs:
            continue
        values = numpy_helper.to_array(init, base_dir=str(src.parent))
        if values.size < FP16_MIN_ELEMENTS:
            continue
        if not np.isfinite(values).all() or np.abs(values).max() > FP16_MAX:
            kept.append(init.name)
            continue
        name, half = init.name, f"{init.name}__fp16"
        init.CopyFrom(numpy_helper.from_array(values.astype(np.float16), half))
        casts.append(
            onnx.helper.make_node("Cast", [half], [name], to=onnx.TensorProto.FLOAT, name=f"{half}__cast")
        )
    # Casts read only initializers, so putting them first keeps the node list topologically sorted.
    nodes = [*casts, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    out = tmp / "fp16.onnx"
    onnx_external.save(model, out, src.parent, "the fp16 model")
    settings = {
        "weights": "float16",
        "activations": "float32",
        "io": "float32",
        "tensors_converted": len(casts),
        "kept_float32_out_of_range": kept,
        "min_elements": FP16_MIN_ELEMENTS,
    }
    return out, settings


def _quant_input(src: Path, tmp: Path) -> tuple[Path, bool]:
    """The model to quantize and whether it is beyond one protobuf file (then every step saves
    external data). A model that fits but came with external data is made one file first: ONNX
    Runtime's pre-processing would lose track of a data file beside the original."""
    import onnx

    model = onnx.load(str(src), load_external_data=False)
    if onnx_external.needs_external_data(model):
        return src, True
    if not onnx_external.locations(model):
        return src, False
    single = tmp / "single.onnx"
    onnx_external.save(model, single, src.parent, "the fp32 model")
    return single, False


def _pre_process(src: Path, tmp: Path, large: bool) -> tuple[Path, str]:
    """ONNX Runtime's recommended quantization pre-processing (shape inference + graph optimization)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        import sympy  # noqa: F401  # symbolic shape inference needs it; onnx shape inference suffices for fixed shapes

        note = ""
    except ImportError:
        note = " (symbolic shape inference skipped: sympy not installed)"
    out = tmp / "pre.onnx"
    external: dict[str, Any] = {}
    if large:
        # Symbolic shape inference serializes the whole model in memory, which protobuf cannot do
        # beyond 2 GiB; onnx shape inference then works from the file (infer_shapes_path).
        note = " (symbolic shape inference skipped: model over 2 GiB)"
        external = {
            "save_as_external_data": True,
            "all_tensors_to_one_file": True,
            "external_data_location": onnx_external.data_file_name(out.name),
        }
    skip_symbolic = bool(note)
    if not (skip_symbolic and _pre_process_lean(src, out, external)):
        quant_pre_process(str(src), str(out), skip_symbolic_shape=skip_symbolic, **external)
    return out, "onnx shape inference + ORT optimization" + note


def _pre_process_lean(src: Path, out: Path, external: dict[str, Any]) -> bool:
    """What quant_pre_process(SRC, OUT, skip_symbolic_shape=True, **EXTERNAL) writes, the same steps
    in the same order, without the copy of the model it loads first and holds while ONNX Runtime
    optimizes the model from its file (that copy is only used where the optimization fails, or for
    opsets up to 10). Returns False, having written nothing, in those cases: quant_pre_process then
    does it all its own way.
    """
    import onnx
    import onnxruntime
    from onnxruntime.quantization.quant_utils import add_pre_process_metadata

    with tempfile.TemporaryDirectory(prefix="pre.quant.") as work:
        optimized, inferred = Path(work) / "optimized.onnx", Path(work) / "onnx_shape_inferred.onnx"
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(optimized)
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        if external:
            options.add_session_config_entry(
                "session.optimized_model_external_initializers_file_name", "optimized.onnx.data"
            )
        try:
            session = onnxruntime.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - quant_pre_process logs it and goes on unoptimized
            return False
        del session
        onnx.shape_inference.infer_shapes_path(str(optimized), str(inferred))
        model = onnx.load(str(inferred))
    if any(o.version <= 10 for o in model.opset_import if o.domain in ("", "ai.onnx")):
        return False  # quant_pre_process replaces Upsample and converts the model to opset 11 first
    add_pre_process_metadata(model)
    if external:
        onnx.save_model(
            model,
            str(out),
            save_as_external_data=True,
            all_tensors_to_one_file=external["all_tensors_to_one_file"],
            location=external["external_data_location"],
            size_threshold=1024,
            convert_attribute=False,
        )
    else:
        onnx.save(model, str(out))
    return True


def _dynamic_int8(src: Path, tmp: Path, calibration: np.ndarray | None) -> tuple[Path, dict[str, Any]]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, large = _quant_input(src, tmp)
    pre, pre_note = _pre_process(src, tmp, large)
    out = tmp / "dynamic.onnx"
    quantize_dynamic(
        str(pre),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=False,
        reduce_range=False,
        use_external_data_format=large,
    )
    return out, {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weights": "int8 per-tensor",
        "activations": "uint8, range computed at run time",
        "pre_process": pre_note,
    }


def _static_int8(src: Path, tmp: Path, calibration: np.ndarray | None) -> tuple[Path, dict[str, Any]]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if calibration is None:
        raise _no_calibration()
    src, large = _quant_input(src, tmp)
    pre, pre_note = _pre_process(src, tmp, large)
    input_name, input_shape, opset = _input_of(pre)
    if list(calibration.shape[1:]) != input_shape[1:]:
        raise ConversionError(
            f"onnx int8 calibration samples have shape {list(calibration.shape[1:])}, the model input {input_name!r} "
            f"takes {input_shape[1:]} per sample",
            hint="calibrate with images preprocessed to the model's input size",
        )
    out = tmp / "int8.onnx"
    reader = _CalibrationReader(input_name, calibration)
    cache = _calibrate(pre, tmp, reader, large, opset)
    quantize_static(
        str(pre),
        str(out),
        None if cache else reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        use_external_data_format=large,
        **({"calibration_cache_path": str(cache)} if cache else {}),
    )
    return out, {
        "method": "onnxruntime.quantization.quantize_static",
        "format": "QDQ",
        "weights": "int8 per-channel",
        "activations": "int8 per-tensor",
        "calibrate_method": "MinMax",
        "pre_process": pre_note,
    }


def _calibrate(pre: Path, tmp: Path, reader: _CalibrationReader, large: bool, opset: int) -> Path | None:
    """quantize_static's MinMax calibration of PRE, done before quantize_static loads the model.

    quantize_static holds the model it quantizes while its calibrator loads another copy, builds
    the augmented model and runs a session over it. Here the calibrator runs alone, the way
    quantize_static runs it, and its ranges go to quantize_static through its calibration cache
    (JSON; float32 values come back exactly), so the model is the same, byte for byte. Returns
    the cache file; None where quantize_static must calibrate itself: an onnxruntime without the
    cache, or an opset below 10, which quantize_static converts (and calibrates) first.
    """
    import inspect

    from onnxruntime.quantization import CalibrationMethod, quantize_static
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    if opset < 10 or "calibration_cache_path" not in inspect.signature(quantize_static).parameters:
        return None
    with tempfile.TemporaryDirectory(prefix="ort.quant.") as work:
        calibrator = create_calibrator(
            Path(pre),
            list(set(list(QLinearOpsRegistry.keys()) + list(QDQRegistry.keys()))),
            augmented_model_path=Path(work).joinpath("augmented_model.onnx").as_posix(),
            calibrate_method=CalibrationMethod.MinMax,
            use_external_data_format=large,
            providers=None,
            extra_options={},
        )
        calibrator.collect_data(reader)
        ranges = calibrator.compute_data()
        del calibrator
    cache = tmp / "calibration.json"
    save_tensors_data(ranges, cache, smooth_quant=False)
    return cache


class _CalibrationReader:
    """Feeds the calibration batch one sample at a time: the model's input has batch size 1."""

    def __init__(self, input_name: str, data: np.ndarray) -> None:
        self._name = input_name
        self._samples = iter(np.ascontiguousarray(data[i : i + 1]) for i in range(len(data)))

    def get_next(self) -> dict[str, np.ndarray] | None:
        sample = next(self._samples, None)
        return None if sample is None else {self._name: sample}

    def __iter__(self):  # onnxruntime's CalibrationDataReader protocol includes iteration
        return iter(self.get_next, None)


QUANTIZERS: dict[str, Callable[[Path, Path, np.ndarray | None], tuple[Path, dict[str, Any]]]] = {
    "fp32": _fp32,
    "fp16": _fp16,
    "dynamic-int8": _dynamic_int8,
    "int8": _static_int8,
}
