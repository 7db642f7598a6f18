"""LiteRT runtime (ai-edge-litert): runs .tflite artifacts with XNNPACK and an explicit thread count."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.artifact import Artifact
from edgekit.errors import RuntimeLoadError
from edgekit.runtimes.base import RuntimePlugin, checked_model_file, dequantize, quantize, register_runtime


class LiteRTSession:
    def __init__(self, artifact: Artifact, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.artifact, self.threads = artifact, threads
        try:
            # num_threads must be explicit: the interpreter defaults to 1 thread.
            self._interp = Interpreter(
                model_path=str(checked_model_file(artifact, "tflite", "LiteRT")), num_threads=threads
            )
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise RuntimeLoadError(
                f"LiteRT cannot load {artifact.path}: {str(exc).splitlines()[0]}"
            ) from None
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        self.input, self.output = artifact.inputs[0], artifact.outputs[0]

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return quantize(np.asarray(x, np.float32), self.input)

    def invoke(self, prepared: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in["index"], prepared)
        self._interp.invoke()
        return self._interp.get_tensor(self._out["index"])

    def predict(self, x: np.ndarray) -> np.ndarray:
        outs = [dequantize(self.invoke(self.prepare(x[i : i + 1])), self.output) for i in range(len(x))]
        return np.concatenate(outs).astype(np.float32)

    def info(self) -> dict[str, Any]:
        import ai_edge_litert

        return {
            "runtime": "litert",
            "version": getattr(ai_edge_litert, "__version__", "unknown"),
            "threads": self.threads,
            "delegate": "XNNPACK (default CPU delegate)",
        }

    def close(self) -> None:
        self._interp = None


def load_litert(artifact: Artifact, threads: int) -> LiteRTSession:
    return LiteRTSession(artifact, threads)


register_runtime(
    RuntimePlugin(
        "litert",
        ("tflite",),
        load_litert,
        "LiteRT interpreter (ai-edge-litert), XNNPACK",
        requires=("ai_edge_litert",),
    ),
    aliases=("tflite-runtime",),
)
