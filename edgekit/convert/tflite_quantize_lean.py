"""TensorFlow's MLIR int8 quantizer run on a model whose large weights are one-element stand-ins.

TensorFlow's full-integer conversion ends with `ExperimentalMlirQuantizeModel` (the MLIR quantizer):
it takes the calibrated float model and returns the quantized one. For a large model it holds the
input several times over (the Python bytes, the unpacked `ModelT`, the flatbuffer packed again, the
imported constants), about 4 GiB at its peak for VGG16 (537 MB of weights).

A flatbuffer constant whose buffer holds one element imports into MLIR as a splat (every element the
same) of the tensor's shape, and the quantizer quantizes it like any constant. So the quantizer here
runs on a copy of the model in which each large float32 weight of a Conv2D, DepthwiseConv2D or
FullyConnected operator holds one value: the copy is small, and so is everything the quantizer makes
of it. The quantized model it returns has those weights' int8 buffers and per-channel scales, and the
int32 biases (whose scales are the input scale times the weight scales), computed from the stand-in;
they are then written over with the values TensorFlow's quantizer computes from the real weights
(its legacy float arithmetic: scale = max|w| / 127 per channel, q = round(w * (1 / scale)) within
[-127, 127]; bias q = round(b * (1 / (input scale * weight scale)))), in place: the output's layout
does not depend on the values. tests/convert/test_tflite_quantize_lean.py compares the bytes with
TensorFlow's own quantizer.

Only weights whose result can be checked stand in: used by one operator only, their buffer by no
other tensor, no channel all zeros, values finite. TensorFlow's exporter shares one buffer between
constants with the same bytes, so at most two stand-ins have the same number of elements (one
positive, quantized to all 127, one negative, all -127). After the call every stand-in must be found
in the output as expected (name, shape, type, buffer of its own, the stand-in's scales and values); if
anything differs, or the quantizer's process fails, TensorFlow's plain call runs instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.convert.tflite_apart import call_in_child, convert_modules

# float32 weights with at least this many bytes stand in (tests lower it)
STAND_IN_BYTES = 1024**2

_FLOAT32, _INT32, _INT8 = 0, 2, 9  # tflite TensorType
_CONV_2D, _DEPTHWISE_CONV_2D, _FULLY_CONNECTED = 3, 4, 9  # tflite BuiltinOperator
_QUANTIZED_DIMENSION = {_CONV_2D: 0, _DEPTHWISE_CONV_2D: 3, _FULLY_CONNECTED: 0}
_BIAS_LIMIT = 2**30  # a bias this far out of the weight's range may make TensorFlow adjust scales
_BLOCK = 1 << 22  # elements quantized at a time


@dataclass
class _StandIn:
    tensor: int  # weight tensor index in the (first) subgraph
    name: bytes
    shape: tuple[int, ...]
    weight: np.ndarray  # float32 view into the caller's model
    bias: np.ndarray | None  # float32 view, or None if the operator has no bias
    dimension: int  # channel axis
    value: np.float32  # the stand-in's one value
    peak: np.ndarray  # max |w| per channel


def _op_code(model: Any, index: int) -> int:
    code = model.OperatorCodes(index)
    return max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))


def _tensor_array(model: Any, tensor: Any, dtype: Any) -> np.ndarray:
    """TENSOR's constant data as a view of DTYPE in the model's bytes (writable if they are)."""
    data = model.Buffers(tensor.Buffer()).DataAsNumpy()
    if isinstance(data, int):  # flatbuffers returns 0 for an absent vector
        return np.zeros(0, dtype)
    return data.view(dtype)


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()


def _uses(model: Any) -> tuple[dict[int, int], dict[tuple[int, int], list[tuple[int, int]]]]:
    """How many tensors use each buffer; for each (subgraph, tensor), its (operator, input slot)s."""
    buffer_users: dict[int, int] = {}
    tensor_uses: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        for t in range(subgraph.TensorsLength()):
            b = subgraph.Tensors(t).Buffer()
            buffer_users[b] = buffer_users.get(b, 0) + 1
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            for slot, t in enumerate(op.InputsAsNumpy() if op.InputsLength() else ()):
                tensor_uses.setdefault((g, int(t)), []).append((o, slot))
            for t in op.IntermediatesAsNumpy() if op.IntermediatesLength() else ():
                tensor_uses.setdefault((g, int(t)), []).append((o, -1))
        ends = [*(subgraph.InputsAsNumpy() if subgraph.InputsLength() else ())]
        ends += [*(subgraph.OutputsAsNumpy() if subgraph.OutputsLength() else ())]
        for t in ends:
            tensor_uses.setdefault((g, int(t)), []).append((-1, -1))
    return buffer_users, tensor_uses


def _plan(data: Any, threshold: int) -> list[_StandIn]:
    """The weights of the model DATA that stand in."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() == 0:
        return []
    buffer_users, tensor_uses = _uses(model)
    subgraph = model.Subgraphs(0)
    plan: list[_StandIn] = []
    signs: dict[int, list[int]] = {}  # element count -> signs used
    for t in range(subgraph.TensorsLength()):
        tensor = subgraph.Tensors(t)
        if tensor.Type() != _FLOAT32 or tensor.IsVariable() or buffer_users.get(tensor.Buffer()) != 1:
            continue
        if model.Buffers(tensor.Buffer()).DataLength() < max(threshold, 8):
            continue
        uses = tensor_uses.get((0, t), [])
        if len(uses) != 1 or uses[0][1] != 1 or uses[0][0] < 0:
            continue
        op = subgraph.Operators(uses[0][0])
        code = _op_code(model, op.OpcodeIndex())
        if code not in _QUANTIZED_DIMENSION:
            continue
        quantization = tensor.Quantization()
        if quantization is not None and (quantization.ScaleLength() or quantization.MinLength()):
            continue
        shape = _shape(tensor)
        dimension = _QUANTIZED_DIMENSION[code]
        weight = _tensor_array(model, tensor, np.float32)
        if len(shape) <= dimension or weight.size != int(np.prod(shape)):
            continue
        bias = None
        inputs = op.InputsAsNumpy()
        if len(inputs) > 2 and inputs[2] >= 0:
            bias_tensor = subgraph.Tensors(int(inputs[2]))
            if (
                bias_tensor.Type() != _FLOAT32
                or buffer_users.get(bias_tensor.Buffer()) != 1
                or len(tensor_uses.get((0, int(inputs[2])), [])) != 1
                or _shape(bias_tensor) != (shape[dimension],)
            ):
                continue
            bias = _tensor_array(model, bias_tensor, np.float32)
            if bias.size != shape[dimension] or not np.isfinite(bias).all():
                continue
        used = signs.setdefault(weight.size, [])
        if len(used) == 2:
            continue
        peak = _channel_peaks(weight.reshape(shape), dimension)
        if not (np.isfinite(peak).all() and (peak > 0).all()):
            continue
        sign = 1 if not used else -1
        used.append(sign)
        value = np.float32(sign * (1 + len(plan) / 1024))
        plan.append(_StandIn(t, tensor.Name(), shape, weight, bias, dimension, value, peak))
    return plan


def _blocks(weight: np.ndarray, dimension: int) -> Any:
    """WEIGHT as (outer, channels, inner) and the outer/channel slices to walk it by in blocks."""
    channels = weight.shape[dimension]
    outer = int(np.prod(weight.shape[:dimension]))
    view = weight.reshape(outer, channels, -1)
    inner = view.shape[2]
    if outer > 1:
        step = max(1, _BLOCK // max(1, channels * inner))
        return view, [(slice(i, i + step), slice(None)) for i in range(0, outer, step)]
    step = max(1, _BLOCK // max(1, inner))
    return view, [(slice(None), slice(c, c + step)) for c in range(0, channels, step)]


def _channel_peaks(weight: np.ndarray, dimension: int) -> np.ndarray:
    """max |w| per channel (float32; NaN where a value is not finite)."""
    view, blocks = _blocks(weight, dimension)
    peak = np.zeros(view.shape[1], np.float32)
    finite = np.ones(view.shape[1], bool)
    for rows, cols in blocks:
        part = view[rows, cols]
        finite[cols] &= np.isfinite(part).all(axis=(0, 2))
        peak[cols] = np.maximum(peak[cols], np.abs(part).max(axis=(0, 2)))
    peak[~finite] = np.nan
    return peak


def _round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (std::round), exactly, in X's precision."""
    magnitude = np.abs(x)
    whole = np.floor(magnitude)
    whole += (magnitude - whole) >= 0.5
    return np.copysign(whole, x)


def _weight_scales(peak: np.ndarray) -> np.ndarray:
    return (peak / np.float32(127)).astype(np.float32)


def _inverse(scales: np.ndarray) -> np.ndarray:
    return (np.float32(1) / scales).astype(np.float32)


def _quantize_weight(weight: np.ndarray, dimension: int, inverse: np.ndarray, out: np.ndarray) -> None:
    """OUT (int8, WEIGHT's size) = round(w * inverse scale of its channel) within [-127, 127]."""
    view, blocks = _blocks(weight, dimension)
    target = out.reshape(view.shape)
    factors = inverse.reshape(1, -1, 1)
    for rows, cols in blocks:
        scaled = view[rows, cols] * factors[:, cols]
        target[rows, cols] = np.clip(_round(scaled), -127, 127).astype(np.int8)


def _stand_in_model(data: Any, plan: list[_StandIn]) -> memoryview:
    """DATA with each planned weight's buffer holding its one value."""
    from tensorflow.lite.python import schema_py_generated as schema

    from edgekit.convert.tflite_lean import pack

    model = schema.ModelT.InitFromPackedBuf(data, 0)  # buffers are views into DATA
    for stand_in in plan:
        tensor = model.subgraphs[0].tensors[stand_in.tensor]
        model.buffers[tensor.buffer].data = np.array([stand_in.value], np.float32).view(np.uint8)
    packed = pack(model)
    del model
    return packed


def _patch(result: bytearray, plan: list[_StandIn]) -> bool:
    """Write the real weights' and biases' quantized values into RESULT; False if it is not as expected."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(result, 0)
    if model.SubgraphsLength() == 0:
        return False
    buffer_users, tensor_uses = _uses(model)
    subgraph = model.Subgraphs(0)
    by_name: dict[bytes, list[int]] = {}
    for t in range(subgraph.TensorsLength()):
        by_name.setdefault(subgraph.Tensors(t).Name(), []).append(t)
    writes: list[Any] = []
    for stand_in in plan:
        found = by_name.get(stand_in.name, [])
        if len(found) != 1:
            return False
        t = found[0]
        tensor = subgraph.Tensors(t)
        quantization = tensor.Quantization()
        channels = stand_in.shape[stand_in.dimension]
        if (
            tensor.Type() != _INT8
            or _shape(tensor) != stand_in.shape
            or buffer_users.get(tensor.Buffer()) != 1
            or quantization is None
            or quantization.QuantizedDimension() != stand_in.dimension
            or quantization.ScaleLength() != channels
        ):
            return False
        values = _tensor_array(model, tensor, np.int8)
        scales = quantization.ScaleAsNumpy()
        expected = _weight_scales(np.full(channels, abs(stand_in.value), np.float32))
        if values.size != stand_in.weight.size or not np.array_equal(scales, expected):
            return False
        if not (values == (127 if stand_in.value > 0 else -127)).all():
            return False
        if quantization.ZeroPointLength() and quantization.ZeroPointAsNumpy().any():
            return False
        uses = tensor_uses.get((0, t), [])
        if len(uses) != 1 or uses[0][1] != 1 or uses[0][0] < 0:
            return False
        op = subgraph.Operators(uses[0][0])
        inputs = op.InputsAsNumpy()
        has_bias = len(inputs) > 2 and inputs[2] >= 0
        if has_bias != (stand_in.bias is not None):
            return False
        real_scales = _weight_scales(stand_in.peak)
        bias_write = None
        if stand_in.bias is not None:
            bias_tensor = subgraph.Tensors(int(inputs[2]))
            bias_quantization = bias_tensor.Quantization()
            input_quantization = subgraph.Tensors(int(inputs[0])).Quantization()
            if (
                bias_tensor.Type() != _INT32
                or _shape(bias_tensor) != (channels,)
                or buffer_users.get(bias_tensor.Buffer()) != 1
                or len(tensor_uses.get((0, int(inputs[2])), [])) != 1
                or bias_quantization is None
                or bias_quantization.ScaleLength() != channels
                or input_quantization is None
                or input_quantization.ScaleLength() != 1
            ):
                return False
            input_scale = np.float32(input_quantization.ScaleAsNumpy()[0])
            bias_values = _tensor_array(model, bias_tensor, np.int32)
            if bias_values.size != channels:
                return False
            bias_scales = (input_scale * real_scales).astype(np.float32)
            if not np.array_equal(
                bias_quantization.ScaleAsNumpy(), (input_scale * expected).astype(np.float32)
            ):
                return False
            bias_inverse = (1.0 / bias_scales.astype(np.float64)).astype(np.float32)
            quantized = _round((stand_in.bias * bias_inverse).astype(np.float32))
            if not np.isfinite(quantized).all() or np.abs(quantized).max(initial=0) > _BIAS_LIMIT:
                return False
            bias_write = (
                bias_values,
                quantized.astype(np.int32),
                bias_quantization.ScaleAsNumpy(),
                bias_scales,
            )
        writes.append((stand_in, values, scales, real_scales, bias_write))
    # every check passed: write
    for stand_in, values, scales, real_scales, bias_write in writes:
        _quantize_weight(
            stand_in.weight.reshape(stand_in.shape), stand_in.dimension, _inverse(real_scales), values
        )
        scales[:] = real_scales
        if bias_write is not None:
            bias_values, quantized, bias_scale_view, bias_scales = bias_write
            bias_values[:] = quantized
            bias_scale_view[:] = bias_scales
    return True


def _plain(args: tuple[Any, ...]) -> bytes | bytearray:
    """TensorFlow's call: in a process of its own, or here if that fails."""
    result = call_in_child(convert_modules(), "ExperimentalMlirQuantizeModel", list(args))
    if result is not None:
        return result
    from tensorflow.compiler.mlir.lite.python import _pywrap_converter_api

    model = args[0] if isinstance(args[0], bytes) else bytes(args[0])  # the extension takes bytes only
    return _pywrap_converter_api.ExperimentalMlirQuantizeModel(model, *args[1:])


def quantize_standing_in(args: tuple[Any, ...], threshold: int | None = None) -> bytearray | None:
    """The quantized model made with large weights standing in, or None where that cannot be done
    (then TensorFlow's plain call is the way)."""
    data = args[0]
    try:
        plan = _plan(data, STAND_IN_BYTES if threshold is None else threshold)
    except Exception:  # noqa: BLE001 - a model this module cannot read quantizes as TensorFlow does
        return None
    if not plan:
        return None
    stand_in = _stand_in_model(data, plan)
    result = call_in_child(
        convert_modules(), "ExperimentalMlirQuantizeModel", [stand_in, *args[1:]], mutable=True
    )
    del stand_in
    if not isinstance(result, bytearray):
        return None
    try:
        patched = _patch(result, plan)
    except Exception:  # noqa: BLE001 - anything unexpected: TensorFlow's own call decides
        return None
    return result if patched else None


def quantize_lean(*args: Any) -> bytes | bytearray:
    """wrap_converter.wrapped_experimental_mlir_quantize(*ARGS)'s bytes, with large weights standing in.

    ARGS are those tensorflow/lite/python/convert.py `mlir_quantize` passes; ARGS[0] is the calibrated
    float model (bytes-like, read, never changed). The quantizer runs in a process of its own."""
    result = quantize_standing_in(args)
    return _plain(args) if result is None else result
