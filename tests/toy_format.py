"""A toy format that lives outside edgekit, to show that a format is one plugin record and nothing else.

"npyfmt": the artifact is model.npz, a tiny numpy model distilled from the reference: each image
is average-pooled to a POOL x POOL grid, a linear map fitted by least squares to the reference's
log-probabilities on the calibration images turns the pooled pixels into logits, and a softmax
gives the class probabilities. Its runtime, "numpy-linear", evaluates that in numpy.

register() adds the format and its runtime to edgekit's registries; unregister() removes them.
Worker processes (bench, parallel conversion) register them through EDGEKIT_PLUGINS
("toy_format:register"), with this folder on PYTHONPATH.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from edgekit.artifact import Artifact, TensorSpec
from edgekit.convert import ConversionRequest, FormatPlugin, register_format, unregister_format
from edgekit.errors import ConversionError, RuntimeLoadError
from edgekit.fsutil import atomic_write_bytes, sha256_file
from edgekit.runtimes import RUNTIMES, RuntimePlugin, register_runtime

FORMAT = "npyfmt"
RUNTIME = "numpy-linear"
MODEL_FILE = "model.npz"
PLUGIN_REF = "toy_format:register"  # what EDGEKIT_PLUGINS names for the worker processes
POOL = 4
RIDGE = 1e-3


def _features(x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] images → [N, POOL*POOL*C + 1] pooled pixels and a bias column."""
    n, h, w, c = x.shape
    hh, ww = h - h % POOL, w - w % POOL
    pooled = x[:, :hh, :ww, :].reshape(n, POOL, hh // POOL, POOL, ww // POOL, c).mean(axis=(2, 4))
    return np.concatenate([pooled.reshape(n, -1), np.ones((n, 1), x.dtype)], axis=1).astype(np.float64)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def convert_npyfmt(request: ConversionRequest) -> Artifact:
    from edgekit.runtimes.reference import ReferenceModel

    if request.calibration is None or len(request.calibration) == 0:
        raise ConversionError("npyfmt is fitted on calibration images and got none")
    x = request.calibration.astype(np.float32)
    target = np.log(np.clip(ReferenceModel(request.reference).predict(x), 1e-6, None))
    f = _features(x)
    weights = np.linalg.solve(f.T @ f + RIDGE * np.eye(f.shape[1]), f.T @ target).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, weights=weights)
    path = atomic_write_bytes(request.out_dir / MODEL_FILE, buf.getvalue())
    return Artifact(
        format=FORMAT,
        quant=request.quant,
        path=path,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        inputs=[TensorSpec("image", [1, *x.shape[1:]], "float32")],
        outputs=[TensorSpec("probabilities", [1, weights.shape[1]], "float32")],
        metadata={**request.metadata, "pool": POOL, "fitted_on": len(x)},
    )


class NumpyLinearSession:
    def __init__(self, artifact: Artifact) -> None:
        if artifact.format != FORMAT or not artifact.path.is_file():
            raise RuntimeLoadError(f"{RUNTIME} runs {FORMAT} artifacts; got {artifact.path}")
        self.artifact = artifact
        self.input, self.output = artifact.inputs[0], artifact.outputs[0]
        with np.load(artifact.path) as npz:
            self._weights = npz["weights"].astype(np.float64)

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float32)

    def invoke(self, prepared: np.ndarray) -> np.ndarray:
        return _softmax(_features(prepared) @ self._weights)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.invoke(self.prepare(x))

    def info(self) -> dict[str, Any]:
        return {"runtime": RUNTIME, "version": np.__version__, "threads": 1, "delegate": None}

    def close(self) -> None:
        pass


def register() -> None:
    register_format(
        FormatPlugin(
            name=FORMAT,
            quant_modes=("fp32",),
            convert=convert_npyfmt,
            description="toy: pooled pixels → linear → softmax, fitted to the reference, run in numpy",
            default_runtime=RUNTIME,
            requires=(),
            model_file=MODEL_FILE,
            suffixes=(".npz",),
        )
    )
    register_runtime(
        RuntimePlugin(RUNTIME, (FORMAT,), lambda artifact, threads: NumpyLinearSession(artifact))
    )


def unregister() -> None:
    unregister_format(FORMAT)
    RUNTIMES.unregister(RUNTIME)
