"""ONNX Runtime: run .onnx artifacts on the CPU execution provider.

Threads are explicit: `threads` intra-op threads and one inter-op thread (sequential execution), so
a measurement says how many cores it used. The graph optimization level defaults to "all" (what a
deployment would use) and can be lowered to compare, e.g. `load_onnx(a, 1, optimization="basic")`.

A model with external data (model.onnx + model.onnx.data, edgekit/convert/onnx_external.py) is
loaded from its path, so ONNX Runtime finds the data file beside it; the artifact's sha256 covers
both files and is checked before loading, like a single file's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.artifact import Artifact, TensorSpec
from edgekit.errors import RuntimeLoadError, UsageError
from edgekit.runtimes.base import RuntimePlugin, checked_model_file, dequantize, quantize, register_runtime

PROVIDER = "CPUExecutionProvider"
# user-facing name -> onnxruntime.GraphOptimizationLevel member
OPTIMIZATION_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "layout": "ORT_ENABLE_LAYOUT",  # offered only where the installed onnxruntime defines it
    "all": "ORT_ENABLE_ALL",
}
DEFAULT_OPTIMIZATION = "all"


class OnnxRuntimeSession:
    """One loaded .onnx artifact with a single input and a single output."""

    def __init__(self, artifact: Artifact, session: Any, threads: int, optimization: str) -> None:
        self.artifact = artifact
        self._session = session
        self._threads = threads
        self._optimization = optimization
        self.input = _spec(session.get_inputs()[0], artifact.inputs)
        self.output = _spec(session.get_outputs()[0], artifact.outputs)

    def prepare(self, x: np.ndarray) -> dict[str, np.ndarray]:
        x = np.asarray(x)
        expected = self.input.shape
        if x.ndim != len(expected) or any(e >= 0 and e != s for e, s in zip(expected, x.shape)):
            raise UsageError(
                f"{self.artifact.name}: input {self.input.name!r} takes shape {expected}; got {list(x.shape)}",
                hint="prepare() takes one sample batch; predict() splits [N, ...] batches into samples",
            )
        return {self.input.name: np.ascontiguousarray(quantize(x, self.input))}

    def invoke(self, prepared: dict[str, np.ndarray]) -> np.ndarray:
        if self._session is None:
            raise RuntimeLoadError(
                f"{self.artifact.path}: the onnxruntime session is closed", hint="load the artifact again"
            )
        try:
            return self._session.run([self.output.name], prepared)[0]
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidArgument classes
            raise RuntimeLoadError(f"onnxruntime failed to run {self.artifact.path}: {exc}") from exc

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        # The artifact's batch dimension is fixed at 1 (the reference's signature), so run per sample.
        outputs = [dequantize(self.invoke(self.prepare(x[i : i + 1])), self.output) for i in range(len(x))]
        if not outputs:
            return np.zeros((0, *self.output.shape[1:]), np.float32)
        return np.concatenate(outputs, axis=0)

    def info(self) -> dict[str, Any]:
        import onnxruntime as ort

        providers = self._session.get_providers() if self._session is not None else [PROVIDER]
        return {
            "runtime": "onnxruntime",
            "version": ort.__version__,
            "threads": self._threads,
            "inter_op_threads": 1,
            "execution_provider": providers[0],
            "graph_optimization_level": self._optimization,
        }

    def close(self) -> None:
        self._session = None  # the InferenceSession frees its memory when released


def _spec(node_arg: Any, declared: list[TensorSpec]) -> TensorSpec:
    """The runtime's view of a tensor, with scale/zero point from the artifact when it records them."""
    match = next((s for s in declared if s.name == node_arg.name), None)
    if match is not None:
        return match
    dtype = {
        "tensor(float)": "float32",
        "tensor(float16)": "float16",
        "tensor(int8)": "int8",
        "tensor(uint8)": "uint8",
    }.get(node_arg.type, "float32")
    shape = [d if isinstance(d, int) else -1 for d in node_arg.shape]
    return TensorSpec(node_arg.name, shape, dtype)


def _options(threads: int, optimization: str) -> Any:
    import onnxruntime as ort

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(
            f"onnxruntime threads must be an integer >= 1; got {threads!r}",
            hint="pass the number of cores to use, e.g. 1 or 4",
        )
    levels = {
        k: getattr(ort.GraphOptimizationLevel, v)
        for k, v in OPTIMIZATION_LEVELS.items()
        if hasattr(ort.GraphOptimizationLevel, v)
    }
    if optimization not in levels:
        raise UsageError(
            f"unknown onnxruntime graph optimization level {optimization!r}",
            hint=f"choose one of: {', '.join(levels)}",
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = levels[optimization]
    options.log_severity_level = 3  # errors only; warnings about unused initializers are noise here
    return options


def load_onnx(
    artifact: Artifact, threads: int, *, optimization: str = DEFAULT_OPTIMIZATION
) -> OnnxRuntimeSession:
    import onnxruntime as ort

    options = _options(threads, optimization)
    path = _checked_files(artifact)
    try:
        session = ort.InferenceSession(str(path), options, providers=[PROVIDER])
    except Exception as exc:  # InvalidProtobuf, NoSuchFile, Fail, NotImplemented...
        raise RuntimeLoadError(
            f"onnxruntime cannot load {path}: {exc}",
            hint="the file is corrupt or not an ONNX model; convert again",
        ) from exc
    if len(session.get_inputs()) != 1 or len(session.get_outputs()) != 1:
        raise RuntimeLoadError(
            f"{path} has {len(session.get_inputs())} inputs and {len(session.get_outputs())} outputs; "
            "edgekit sessions run models with one input and one output"
        )
    return OnnxRuntimeSession(artifact, session, threads, optimization)


def _checked_files(artifact: Artifact) -> Path:
    """The model file, checked like every runtime's; with external data, the data files too."""
    from edgekit.convert.onnx_external import artifact_data_files, files_sha256

    try:
        data = artifact_data_files(artifact.metadata)
    except ValueError as exc:
        raise RuntimeLoadError(f"{artifact.path}: artifact.json is damaged: {exc}") from None
    if not data:
        return checked_model_file(artifact, "onnx", "onnxruntime")
    # the model file alone is not what the recorded sha256 covers: check it and its data together
    path = checked_model_file(dataclasses.replace(artifact, sha256=""), "onnx", "onnxruntime")
    missing = [n for n in data if not (path.parent / n).is_file()]
    if missing:
        raise RuntimeLoadError(
            f"{path} keeps its weights in {', '.join(missing)}, which is missing beside it",
            hint="copy the model file together with its .data file, or run the convert step again",
        )
    if artifact.sha256 and files_sha256(path.parent, [path.name, *data]) != artifact.sha256:
        raise RuntimeLoadError(
            f"{path} or its external data ({', '.join(data)}) changed since it was converted: "
            "their sha256 differs from artifact.json",
            hint="run the convert step again to rebuild the artifact",
        )
    return path


register_runtime(
    RuntimePlugin(
        name="onnxruntime",
        formats=("onnx",),
        load=load_onnx,
        description="ONNX Runtime, CPU execution provider, explicit intra-op threads",
        requires=("onnxruntime",),
    ),
    aliases=("ort",),
)
