"""Where int8 loses accuracy: per-layer error attribution and selective quantization for TFLite.

Both use TensorFlow's QuantizationDebugger, which runs the float and the quantized model side by
side on the same inputs and compares every quantized layer's output with its float twin.

TFLite names an op after the TensorFlow ops fused into it, each carrying the Keras name scope it
was traced in: 'model/features/MatMul;model/outlier_block/mul' is one fully-connected op made
from the Keras layers `features` and `outlier_block`. Users name Keras layers, so attribution reports those and `keep_float` matches
them. Ops traced inside a restored SavedModel (a TF Hub backbone) lose their scopes
('Relu6;Conv2D'): they have no Keras name, and keep_float matches their TFLite names instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from edgekit.convert.tflite_load import loaded_once, saved_model_converter
from edgekit.errors import ConversionError

_PREFIX = "NumericVerify/"


def _converter(reference: Path, calibration: np.ndarray):
    import tensorflow as tf

    converter = saved_model_converter(reference / "saved_model")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _batches(calibration)
    return converter


def _batches(x: np.ndarray):
    def generate():
        for i in range(len(x)):
            yield [x[i : i + 1].astype(np.float32)]

    return generate


def _debugger(
    reference: Path,
    calibration: np.ndarray,
    debug_inputs: np.ndarray,
    denylist: list[str] | None = None,
    direct_metrics: dict | None = None,
):
    import tensorflow as tf

    options = (
        tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=denylist, layer_direct_compare_metrics=direct_metrics
        )
        if denylist or direct_metrics
        else None
    )
    with warnings.catch_warnings(), loaded_once():  # the debugger uses the deprecated tf.lite.Interpreter
        warnings.simplefilter("ignore")
        return tf.lite.experimental.QuantizationDebugger(
            converter=_converter(reference, calibration),
            debug_dataset=_batches(debug_inputs),
            debug_options=options,
        )


def keras_layers(tflite_name: str) -> list[str]:
    """The Keras layers an attributed TFLite op was made from, in order, each once; [] if none is named.

    Each ';'-separated part is a TensorFlow op name 'model/<layer>/<op>' (nested models add scopes:
    the layer is the innermost scope, the part before the op). A part without a scope ('Conv2D')
    names no layer.
    """
    names: list[str] = []
    for part in tflite_name.split(";"):
        scopes = part.split(":")[0].split("/")
        if len(scopes) >= 3 and scopes[-2] not in names:
            names.append(scopes[-2])
    return names


def _signal_lost(float_tensors, quant_tensors, scale: float, zero_point: int) -> float:
    """Share of the layer's non-zero float values that int8 rounds to zero.

    A layer whose range is stretched by a few huge values (an outlier channel) gets a quantization
    step larger than the values the rest of the network uses: they all become zero. Its output
    error looks small next to its range, so RMSE ranks it low; this share is near 1 for it."""
    f = np.concatenate([np.ravel(np.asarray(t, dtype=np.float64)) for t in float_tensors])
    nonzero = f != 0
    if not scale or not nonzero.any():
        return 0.0
    return float(np.mean(np.abs(f[nonzero]) < scale / 2))


def layer_errors(
    reference: Path, calibration: np.ndarray, debug_inputs: np.ndarray, top: int = 5
) -> list[dict]:
    """The layers where int8 loses most, worst first: layers that lose most of their signal (see
    _signal_lost) first, then by RMSE against the float twin. Each row names its Keras layers."""
    rows = []
    debugger = _debugger(reference, calibration, debug_inputs, direct_metrics={"signal_lost": _signal_lost})
    for name, stats in _run(debugger).items():
        mse = float(stats.get("mean_squared_error", 0.0))
        layer = _clean(name)
        rows.append(
            {
                "layer": layer,
                "keras_layers": keras_layers(layer),
                "signal_lost": round(float(stats.get("signal_lost", 0.0)), 4),
                "rmse": mse**0.5,
                "max_abs_error": float(stats.get("max_abs_error", 0.0)),
                "mean_error": float(stats.get("mean_error", 0.0)),
            }
        )
    rows.sort(key=_severity, reverse=True)
    return rows[:top]


# Healthy layers lose a few small values near zero (10-20 % is common after pooling); a layer that
# loses most of its signal is broken whatever its RMSE, and ranks before every healthy one.
SIGNAL_LOST_DECISIVE = 0.5


def _severity(row: dict) -> tuple[bool, float, float]:
    lost = row["signal_lost"]
    return (lost >= SIGNAL_LOST_DECISIVE, lost if lost >= SIGNAL_LOST_DECISIVE else 0.0, row["rmse"])


def _run(debugger) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        debugger.run()
    return debugger.layer_statistics


def _clean(name: str) -> str:
    """'NumericVerify/model/conv2d_1/Relu;model/conv2d_1/Conv2D1:25' → 'model/conv2d_1/Relu;model/conv2d_1/Conv2D'.

    The debugger names each check 'NumericVerify/<tensor name><one digit>:<index>'; the op's real
    output tensor name is what is left without the prefix, the index and that digit (TensorFlow's
    own QuantizationDebugger._get_operand_name_and_index does the same). Only the real name works
    as a denylisted node: with the digit left on, keep_float silently kept nothing in float.
    """
    name = name[len(_PREFIX) :] if name.startswith(_PREFIX) else name
    name = name.rsplit(":", 1)[0]
    return name[:-1] if name[-1:].isdigit() else name


def selective_int8(
    reference: Path, calibration: np.ndarray, keep_float: list[str]
) -> tuple[bytes, list[str]]:
    """An int8 model with the layers KEEP_FLOAT names left in float.

    Each entry is a Keras layer name (every TFLite op made from that layer stays float, see
    keras_layers) or, for ops without one, a part of a TFLite op name. Returns the model bytes
    and the TFLite ops kept in float. Inputs/outputs stay float32: a model that mixes float
    layers in cannot take integer input without a quantize op at the boundary.
    """
    all_layers = [_clean(n) for n in _run(_debugger(reference, calibration, calibration[:2]))]
    matched = [name for name in all_layers if any(_names(name, k) for k in keep_float)]
    unmatched = [k for k in keep_float if not any(_names(name, k) for name in all_layers)]
    if unmatched:
        keras = sorted({k for name in all_layers for k in keras_layers(name)})
        unnamed = [name for name in all_layers if not keras_layers(name)]
        raise ConversionError(
            f"convert.tflite.keep_float: none of {unmatched} matches a quantized layer",
            hint=(
                f"Keras layer names are: {', '.join(keras[:12])}{' …' if len(keras) > 12 else ''}; "
                if keras
                else ""
            )
            + (
                f"TFLite ops without one: {', '.join(unnamed[:8])}{' …' if len(unnamed) > 8 else ''}"
                if unnamed
                else ""
            ),
        )
    debugger = _debugger(reference, calibration, calibration[:2], denylist=matched)
    with warnings.catch_warnings(), loaded_once():
        warnings.simplefilter("ignore")
        return debugger.get_nondebug_quantized_model(), matched


def _names(tflite_name: str, wanted: str) -> bool:
    """Does keep_float entry WANTED name this op: one of its Keras layers, or (no Keras layer) part of its name."""
    layers = keras_layers(tflite_name)
    return wanted in layers if layers else wanted in tflite_name
