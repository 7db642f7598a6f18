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


class _Unexpected(Exception):
    """The quantizer's output is not what the stand-ins should have made of it: nothing is written."""


def _expect(condition: bool) -> None:
    if not condition:
        raise _Unexpected


@dataclass
class _Output:
    """The quantized stand-in model's first subgraph, with who uses which buffer and tensor."""

    model: Any
    subgraph: Any
    buffer_users: dict[int, int]
    tensor_uses: dict[tuple[int, int], list[tuple[int, int]]]
    by_name: dict[bytes, list[int]]

    @classmethod
    def read(cls, result: bytearray) -> _Output:
        from tensorflow.lite.python import schema_py_generated as schema

        model = schema.Model.GetRootAs(result, 0)
        _expect(model.SubgraphsLength() > 0)
        buffer_users, tensor_uses = _uses(model)
        subgraph = model.Subgraphs(0)
        by_name: dict[bytes, list[int]] = {}
        for t in range(subgraph.TensorsLength()):
            by_name.setdefault(subgraph.Tensors(t).Name(), []).append(t)
        return cls(model, subgraph, buffer_users, tensor_uses, by_name)

    def own(self, index: int) -> Any:
        """Tensor INDEX, checked to be read by one operator only and to hold a buffer no other has."""
        tensor = self.subgraph.Tensors(index)
        _expect(self.buffer_users.get(tensor.Buffer()) == 1)
        _expect(len(self.tensor_uses.get((0, index), [])) == 1)
        return tensor


@dataclass
class _Write:
    """One stand-in's real values, ready to go over what the quantizer made of it."""

    stand_in: _StandIn
    values: np.ndarray  # the output's int8 weight, a view into it
    scales: np.ndarray  # its per-channel scales, a view
    real_scales: np.ndarray
    bias: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None  # views and their values

    def apply(self) -> None:
        s = self.stand_in
        _quantize_weight(s.weight.reshape(s.shape), s.dimension, _inverse(self.real_scales), self.values)
        self.scales[:] = self.real_scales
        if self.bias is not None:
            values, quantized, scale_view, scales = self.bias
            values[:] = quantized
            scale_view[:] = scales


def _weight_write(out: _Output, stand_in: _StandIn) -> _Write:
    """STAND_IN's weight in OUT, checked to be what the quantizer makes of the stand-in, and its write."""
    found = out.by_name.get(stand_in.name, [])
    _expect(len(found) == 1)
    tensor = out.own(found[0])
    quantization = tensor.Quantization()
    channels = stand_in.shape[stand_in.dimension]
    _expect(tensor.Type() == _INT8 and _shape(tensor) == stand_in.shape)
    _expect(quantization is not None and quantization.QuantizedDimension() == stand_in.dimension)
    _expect(quantization.ScaleLength() == channels)
    values = _tensor_array(out.model, tensor, np.int8)
    scales = quantization.ScaleAsNumpy()
    expected = _weight_scales(np.full(channels, abs(stand_in.value), np.float32))
    _expect(values.size == stand_in.weight.size and np.array_equal(scales, expected))
    _expect(bool((values == (127 if stand_in.value > 0 else -127)).all()))
    _expect(not (quantization.ZeroPointLength() and quantization.ZeroPointAsNumpy().any()))
    ((op_index, position),) = out.tensor_uses[(0, found[0])]  # one use: checked by out.own
    _expect(op_index >= 0 and position == 1)  # the operator's filter input
    inputs = out.subgraph.Operators(op_index).InputsAsNumpy()
    has_bias = len(inputs) > 2 and inputs[2] >= 0
    _expect(has_bias == (stand_in.bias is not None))
    real_scales = _weight_scales(stand_in.peak)
    bias = _bias_write(out, stand_in, inputs, expected, real_scales) if has_bias else None
    return _Write(stand_in, values, scales, real_scales, bias)


def _bias_write(
    out: _Output, stand_in: _StandIn, inputs: np.ndarray, expected: np.ndarray, real_scales: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The operator's int32 bias, checked against the stand-in's scales, and its real values and scales."""
    assert stand_in.bias is not None
    channels = stand_in.shape[stand_in.dimension]
    bias_tensor = out.own(int(inputs[2]))
    bias_quantization = bias_tensor.Quantization()
    input_quantization = out.subgraph.Tensors(int(inputs[0])).Quantization()
    _expect(bias_tensor.Type() == _INT32 and _shape(bias_tensor) == (channels,))
    _expect(bias_quantization is not None and bias_quantization.ScaleLength() == channels)
    _expect(input_quantization is not None and input_quantization.ScaleLength() == 1)
    input_scale = np.float32(input_quantization.ScaleAsNumpy()[0])
    bias_values = _tensor_array(out.model, bias_tensor, np.int32)
    _expect(bias_values.size == channels)
    stand_in_scales = (input_scale * expected).astype(np.float32)
    _expect(np.array_equal(bias_quantization.ScaleAsNumpy(), stand_in_scales))
    bias_scales = (input_scale * real_scales).astype(np.float32)
    bias_inverse = (1.0 / bias_scales.astype(np.float64)).astype(np.float32)
    quantized = _round((stand_in.bias * bias_inverse).astype(np.float32))
    _expect(bool(np.isfinite(quantized).all()) and np.abs(quantized).max(initial=0) <= _BIAS_LIMIT)
    return bias_values, quantized.astype(np.int32), bias_quantization.ScaleAsNumpy(), bias_scales


def _patch(result: bytearray, plan: list[_StandIn]) -> bool:
    """Write the real weights' and biases' quantized values into RESULT; False (nothing written) if
    it is not as expected."""
    try:
        out = _Output.read(result)
        writes = [_weight_write(out, stand_in) for stand_in in plan]
    except _Unexpected:
        return False
    for write in writes:  # every check passed
        write.apply()
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
