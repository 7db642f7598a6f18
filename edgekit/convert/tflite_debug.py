"""Where int8 loses accuracy: per-layer error attribution and selective quantization for TFLite.

Both use TensorFlow's QuantizationDebugger, which runs the float and the quantized model side by
side on the same inputs and compares every quantized layer's output with its float twin.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from edgekit.errors import ConversionError

_PREFIX = "NumericVerify/"


def _converter(reference: Path, calibration: np.ndarray):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(reference / "saved_model"), signature_keys=["serving_default"]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _batches(calibration)
    return converter


def _batches(x: np.ndarray):
    def generate():
        for i in range(len(x)):
            yield [x[i : i + 1].astype(np.float32)]

    return generate


def _debugger(
    reference: Path, calibration: np.ndarray, debug_inputs: np.ndarray, denylist: list[str] | None = None
):
    import tensorflow as tf

    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist) if denylist else None
    with warnings.catch_warnings():  # the debugger uses the deprecated tf.lite.Interpreter internally
        warnings.simplefilter("ignore")
        return tf.lite.experimental.QuantizationDebugger(
            converter=_converter(reference, calibration),
            debug_dataset=_batches(debug_inputs),
            debug_options=options,
        )


def layer_errors(
    reference: Path, calibration: np.ndarray, debug_inputs: np.ndarray, top: int = 5
) -> list[dict]:
    """The layers whose quantized output differs most from float, worst first (by RMSE)."""
    rows = []
    for name, stats in _run(_debugger(reference, calibration, debug_inputs)).items():
        mse = float(stats.get("mean_squared_error", 0.0))
        rows.append(
            {
                "layer": _clean(name),
                "rmse": mse**0.5,
                "max_abs_error": float(stats.get("max_abs_error", 0.0)),
                "mean_error": float(stats.get("mean_error", 0.0)),
            }
        )
    rows.sort(key=lambda r: r["rmse"], reverse=True)
    return rows[:top]


def _run(debugger) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        debugger.run()
    return debugger.layer_statistics


def _clean(name: str) -> str:
    """'NumericVerify/model/conv2d_1/Relu;model/conv2d_1/Conv2D1:25' → 'model/conv2d_1/Relu;model/conv2d_1/Conv2D1'."""
    name = name[len(_PREFIX) :] if name.startswith(_PREFIX) else name
    return name.rsplit(":", 1)[0]


def selective_int8(
    reference: Path, calibration: np.ndarray, keep_float: list[str]
) -> tuple[bytes, list[str]]:
    """An int8 model with the layers whose names contain any of KEEP_FLOAT left in float.

    Returns the model bytes and the matched layer names. Inputs/outputs stay float32: a model
    that mixes float layers in cannot take integer input without a quantize op at the boundary.
    """
    all_layers = [_clean(n) for n in _run(_debugger(reference, calibration, calibration[:2]))]
    matched = [name for name in all_layers if any(k in name for k in keep_float)]
    if not matched:
        raise ConversionError(
            f"quantize.keep_float: none of {keep_float} matches a quantized layer",
            hint=f"layer names are: {', '.join(all_layers[:12])}{' …' if len(all_layers) > 12 else ''}",
        )
    debugger = _debugger(reference, calibration, calibration[:2], denylist=matched)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return debugger.get_nondebug_quantized_model(), matched
