"""TensorFlow's TFLite calibration with the model's weights held once more at most, not four times.

TensorFlow's full-integer conversion calibrates the float model before quantizing it:
`Calibrator(model).calibrate(dataset)` (tensorflow/lite/python/optimize/calibrator.py) builds an
interpreter whose every kernel is wrapped to log its float inputs and outputs, runs each sample
through it, and writes each logged tensor's running min/max into the model
(`CalibrationWrapper.Calibrate`: the whole model unpacked into C++ objects, packed again by a
builder that doubles as it grows, and copied out to Python twice). For VGG16 (537 MB of weights)
that took the process from 1.06 to 3.65 GiB.

`calibrate` gathers the same statistics from TensorFlow's own interpreter (the same kernels, with
the calibrator's thread count, keeping every tensor so that each can be read after the run,
reading the model where it lies) and writes them the way TensorFlow's calibration reader does,
packing with `tflite_lean.pack` (the weights written from views of the input, into a memory map).
It follows TensorFlow's rules (tensorflow/lite/tools/optimize/calibration):

- a tensor is logged when it is an operator's input or output, float32, and has no data in the
  model (weights and constants are not); an operator's inputs are logged before it runs and again
  after it, from their memory, which an operator running in place (ADD on an input nothing else
  reads, RESHAPE) has overwritten with its output by then; its outputs after it;
- each logged tensor keeps a running min/max over every element logged, starting at
  (FLT_MAX, FLT_MIN), so a tensor never above zero gets FLT_MIN as its max; a value replaces the
  running one only when strictly beyond it (of equal zeros, the first seen stays);
- the calibrated model is the input model with each logged tensor's quantization replaced by
  parameters holding only [min] and [max] (the flatbuffer's layout differs from TensorFlow's
  C++ builder's; its content is the same, and so is the quantized model made from it).

Where the lean path cannot be sure to reproduce TensorFlow it returns None and TensorFlow's
calibrator runs: more than one subgraph, variable tensors (recurrent state), operators with
intermediate tensors (LSTMs, logged by their own kernels), NaN values (TensorFlow skips them),
empty tensors, samples of differing shapes, custom op registerers, and anything the interpreter
refuses. `lean_calibration()` puts this in TensorFlow's converter; tests/convert/test_tflite_calibrate.py
compares the statistics and the quantized models, byte for byte.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.convert.tflite_lean import pack, release_memory

FLOAT32 = 0  # schema TensorType.FLOAT32
FLT_MAX = float(np.finfo(np.float32).max)
FLT_MIN = float(np.finfo(np.float32).tiny)  # std::numeric_limits<float>::min(): the smallest normal


# TensorFlow's calibrator leaves its interpreter's thread count unset (-1): its Eigen kernels (float
# convolutions) then run on 4 threads, and their sums come out differently on 1 (ruy's, which a
# thread count also sets, come out the same on any number)
THREADS = 4


class _Unsupported(Exception):
    """The lean path cannot reproduce TensorFlow's calibration of this model."""


def _logging_plan(model: Any) -> list[tuple[list[int], list[int]]]:
    """Per operator, the tensors TensorFlow's calibrator logs: (inputs, outputs). Raises _Unsupported."""
    if model.SubgraphsLength() != 1:
        raise _Unsupported("several subgraphs")
    subgraph = model.Subgraphs(0)
    if subgraph.OperatorsLength() == 0:
        raise _Unsupported("no operators")
    for t in range(subgraph.TensorsLength()):
        if subgraph.Tensors(t).IsVariable():
            raise _Unsupported("variable tensors")
    for b in range(model.BuffersLength()):
        buffer = model.Buffers(b)
        if buffer is not None and buffer.Offset() > 1:
            raise _Unsupported("buffers after the flatbuffer")  # (over 2 GB) not packed by `pack`

    def loggable(indices: list[int]) -> list[int]:
        out = []
        for index in indices:
            if index < 0:  # an optional input left out
                continue
            tensor = subgraph.Tensors(index)
            buffer = model.Buffers(tensor.Buffer())
            if tensor.Type() == FLOAT32 and (buffer is None or buffer.DataLength() == 0):
                out.append(index)
        return out

    plan = []
    for i in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(i)
        if op.IntermediatesLength() > 0:
            raise _Unsupported("intermediate tensors")
        plan.append(
            (
                loggable([op.Inputs(j) for j in range(op.InputsLength())]),
                loggable([op.Outputs(j) for j in range(op.OutputsLength())]),
            )
        )
    return plan


def _data(interpreter: Any, index: int) -> tuple[int, int] | None:
    """Where tensor INDEX's data lies in INTERPRETER: (address, bytes); None where it has none yet."""
    try:
        array = interpreter.tensor(index)()
    except ValueError:  # no data (not yet allocated: a model output)
        return None
    if not isinstance(array, np.ndarray):  # a scalar comes as a copy: where it lies is unknown
        raise _Unsupported("a scalar tensor")
    return array.ctypes.data, array.nbytes


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


def _reads_after(interpreter: Any, plan: list) -> list[list[int]]:
    """Per operator and logged input, the tensor whose values TensorFlow's calibrator logs for that
    input after the operator ran: the input itself, or the output written over it.

    TensorFlow logs each operator's inputs again after running it, from the input's memory. Its
    interpreter lets some operators (ADD, MUL, ... on an input nothing else reads; RESHAPE) write
    their output over their input, so what it logs there is the output. INTERPRETER is
    one planned as TensorFlow's calibrator plans (all tensors not kept), run once (the shapes some
    operators compute as they run, RESHAPE's, are known then)."""
    reads = []
    for inputs, outputs in plan:
        where = {place: o for o in outputs if (place := _data(interpreter, o)) is not None}
        read = []
        for i in inputs:
            place = _data(interpreter, i)
            if place is not None and place not in where and any(_overlap(place, p) for p in where):
                raise _Unsupported("an output partly over an input")
            read.append(where.get(place, i) if place is not None else i)
        reads.append(read)
    return reads


# per tensor and sample: (the min TensorFlow's running min takes from it, its max)
Summary = tuple[float, float]


def _summary(values: np.ndarray) -> Summary:
    if values.size == 0:
        raise _Unsupported("an empty tensor")
    low, high = values.min(), values.max()
    if np.isnan(low) or np.isnan(high):
        raise _Unsupported("NaN values")  # TensorFlow skips them (with a warning)
    if low == 0:  # of equal values the first seen wins; among equals only zeros (+0, -0) differ
        low = values.reshape(-1)[np.argmin(values)]
    return float(low), float(high)


class _MinMax:
    """tflite::optimize::calibration::MinMax: the running min/max of one tensor."""

    __slots__ = ("max", "min")

    def __init__(self) -> None:
        self.min = FLT_MAX  # std::numeric_limits<float>::max()
        self.max = FLT_MIN  # std::numeric_limits<float>::min(), the smallest positive normal

    def update(self, summary: Summary) -> None:
        low, high = summary
        if low < self.min:  # std::min<float>(min_, value): a tie keeps the value seen first
            self.min = low
        if high > self.max:
            self.max = high


def _prepared(interpreter: Any, sample: Sequence[np.ndarray]) -> list[dict]:
    """INTERPRETER prepared as TensorFlow's calibrator does (Prepare(shapes): every input resized to
    SAMPLE's, then allocated); its inputs' details."""
    inputs = interpreter.get_input_details()
    if len(sample) != len(inputs):
        raise _Unsupported("the samples do not match the model's inputs")
    for detail, value in zip(inputs, sample, strict=True):
        interpreter.resize_tensor_input(detail["index"], list(np.shape(value)))
    interpreter.allocate_tensors()
    return interpreter.get_input_details()


def _run(interpreter: Any, inputs: list[dict], sample: Sequence[np.ndarray]) -> None:
    if len(sample) != len(inputs):
        raise _Unsupported("the samples do not match the model's inputs")
    for detail, value in zip(inputs, sample, strict=True):
        if list(np.shape(value)) != list(detail["shape"]):
            raise _Unsupported("samples of differing shapes")
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()


def _statistics(
    interpreter: Any, plan: list, reads: list, samples: Sequence[Sequence[np.ndarray]]
) -> dict[int, _MinMax]:
    """The calibrator's statistics: INTERPRETER keeps all its tensors, so each is read after the run, and
    every operator's logging (inputs, inputs again as READS says, outputs) is replayed in order."""
    inputs = _prepared(interpreter, samples[0])
    logged = {i for ins, outs in plan for i in ins + outs}
    stats = {index: _MinMax() for index in sorted(logged)}
    for sample in samples:
        _run(interpreter, inputs, sample)
        summaries = {index: _summary(interpreter.tensor(index)()) for index in logged}
        for (ins, outs), read in zip(plan, reads, strict=True):
            for i in ins:
                stats[i].update(summaries[i])
            for i, r in zip(ins, read, strict=True):
                stats[i].update(summaries[r])
            for o in outs:
                stats[o].update(summaries[o])
    return stats


def _with_statistics(model_bytes: Any, stats: dict) -> memoryview:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    tensors = model.subgraphs[0].tensors
    for index, minmax in stats.items():
        q = schema.QuantizationParametersT()
        q.min = [minmax.min]
        q.max = [minmax.max]
        tensors[index].quantization = q
    return pack(model)


def calibrate(model: bytes | Path, samples: Sequence[Sequence[np.ndarray]]) -> memoryview | None:
    """MODEL (a .tflite's bytes or path) calibrated on SAMPLES (each a list of input arrays) as
    TensorFlow's Calibrator.calibrate does it; None where only TensorFlow's calibrator can tell."""
    if not samples:
        return None
    if isinstance(model, Path):
        with model.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return _calibrate(mapped, samples, {"model_path": str(model)})
    return _calibrate(model, samples, {"model_content": model})


def _interpreter() -> tuple[Any, Any]:
    """TensorFlow's TFLite interpreter: the kernels TensorFlow's calibrator runs, built the same way
    (LiteRT's own build, ai_edge_litert, computes some float results differently in their last bits)."""
    import warnings

    from tensorflow.lite.python import interpreter

    class Interpreter(interpreter.Interpreter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            with warnings.catch_warnings():  # its deprecation notice: TensorFlow's calibrator runs it too
                warnings.simplefilter("ignore", UserWarning)
                super().__init__(*args, **kwargs)

    return Interpreter, interpreter.OpResolverType


def _calibrate(model: Any, samples: Sequence[Sequence[np.ndarray]], source: dict) -> memoryview | None:
    from ai_edge_litert import schema_py_generated as schema

    Interpreter, OpResolverType = _interpreter()
    resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        plan = _logging_plan(schema.Model.GetRootAs(model, 0))
        planned = Interpreter(**source, experimental_op_resolver_type=resolver, num_threads=THREADS)
        _run(planned, _prepared(planned, samples[0]), samples[0])
        reads = _reads_after(planned, plan)
        del planned
        interpreter = Interpreter(
            **source,
            experimental_op_resolver_type=resolver,
            experimental_preserve_all_tensors=True,
            num_threads=THREADS,
        )
        stats = _statistics(interpreter, plan, reads, samples)
    except Exception:  # noqa: BLE001 - _Unsupported, or whatever the model or samples make TensorFlow's
        return None  # interpreter raise: TensorFlow's calibrator then runs and reports it as it does
    del interpreter  # its arena, and its map of the model's file
    release_memory()
    return _with_statistics(model, stats)


def calibrated_model(model_path: Path, samples: np.ndarray) -> memoryview | None:
    """The .tflite at MODEL_PATH calibrated on SAMPLES (one input; sample i is samples[i:i+1]), as
    TensorFlow's converter calibrates with edgekit's representative dataset; None where the lean
    path does not apply."""
    samples = samples.astype(np.float32, copy=False)
    return calibrate(model_path, [[samples[i : i + 1]] for i in range(len(samples))])


@contextlib.contextmanager
def lean_calibration(as_view: bool = False) -> Iterator[None]:
    """While TensorFlow's converter quantizes to int8: its Calibrator calibrates with `calibrate` where
    that applies, and falls back to TensorFlow's own calibration where not.

    The calibrated model goes on to TensorFlow's MLIR quantizer as bytes (it takes nothing else), or
    with AS_VIEW as the memoryview `calibrate` packs (no copy: for `tflite_apart.converts_apart`,
    whose quantizer writes it to a file)."""
    from tensorflow.lite.python.optimize import calibrator

    original = calibrator.Calibrator

    class Calibrator(original):  # type: ignore[misc, valid-type]
        def __init__(self, model_content: Any, *args: Any, **kwargs: Any) -> None:
            # TensorFlow's calibration wrapper (a copy of the model, an interpreter) only when needed
            self._lean_model = model_content
            self._lean_args = (args, kwargs)
            self._calibrator = None
            self._model_content = model_content
            self._interpreter = None

        def _tensorflows(self) -> None:
            if self._calibrator is None:
                args, kwargs = self._lean_args
                original.__init__(self, self._lean_model, *args, **kwargs)

        def _lean(self, samples: list) -> memoryview | None:
            args, kwargs = self._lean_args
            custom_ops = any(args) or any(kwargs.values())
            if custom_ops or not all(isinstance(s, list) for s in samples):
                return None  # custom op registerers, or samples by signature: TensorFlow's calibrator
            return calibrate(self._lean_model, samples)

        def calibrate(self, dataset_gen: Any) -> Any:
            samples = list(dataset_gen())
            result = self._lean(samples)
            if result is not None:
                return result if as_view else bytes(result)
            self._tensorflows()
            return super().calibrate(lambda: iter(samples))

        def calibrate_and_quantize(self, dataset_gen: Any, *args: Any, **kwargs: Any) -> Any:
            self._tensorflows()  # the legacy quantizer (int16x8) calibrates in TensorFlow's wrapper
            return super().calibrate_and_quantize(dataset_gen, *args, **kwargs)

        def calibrate_and_quantize_single(self, dataset_gen: Any, *args: Any, **kwargs: Any) -> Any:
            self._tensorflows()
            return super().calibrate_and_quantize_single(dataset_gen, *args, **kwargs)

    calibrator.Calibrator = Calibrator
    try:
        yield
    finally:
        calibrator.Calibrator = original
