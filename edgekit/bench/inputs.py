"""Where benchmark inputs come from: the shared preprocessing, never zeros.

A run directory carries `reference/bench_inputs.npy` (preprocessed held-out images saved by the
pipeline). A bare artifact has no data beside it, so a deterministic generated image set goes
through the same `preprocess` function; the result records which source was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.artifact import Artifact
from edgekit.errors import BenchError

BENCH_INPUTS = "bench_inputs.npy"
GENERATED_COUNT = 8
GENERATED_SEED = 0


@dataclass
class Inputs:
    x: np.ndarray  # float32 [N, ...], already preprocessed
    source: str  # "run-dir" | "generated"
    detail: str  # the file, or how the images were made

    def describe(self) -> dict:
        return {
            "source": self.source,
            "detail": self.detail,
            "count": int(len(self.x)),
            "shape": list(self.x.shape[1:]),
            "dtype": str(self.x.dtype),
        }


def run_dir_inputs(reference: Path) -> Inputs | None:
    path = reference / BENCH_INPUTS
    if not path.is_file():
        return None
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"{path} is not a readable .npy array: {exc}", hint="rerun `edgekit convert` to rewrite it"
        ) from None
    if x.ndim < 2 or len(x) == 0:
        raise BenchError(
            f"{path} holds shape {list(x.shape)}; expected [N, ...] preprocessed images with N >= 1"
        )
    return Inputs(x.astype(np.float32), "run-dir", str(path))


def generated_inputs(artifact: Artifact, value_range: tuple[float, float] | None = None) -> Inputs:
    """Deterministic pattern images at the artifact's input size, through the shared preprocessing."""
    from edgekit.train.preprocess import Preprocessing, preprocess
    from edgekit.train.shapes import generate_shapes

    shape = artifact.inputs[0].shape
    if len(shape) != 4 or shape[-1] != 3 or min(shape[1:3]) < 1:
        raise BenchError(
            f"{artifact.path}: input shape {shape} is not an image batch [1, H, W, 3]",
            hint="benchmark it from a run directory that has reference/bench_inputs.npy",
        )
    height, width = int(shape[1]), int(shape[2])
    value_range = value_range or _value_range(artifact)
    images, _, _ = generate_shapes(GENERATED_COUNT, size=max(height, width), seed=GENERATED_SEED)
    x = preprocess(images, Preprocessing((height, width), value_range))
    return Inputs(
        x,
        "generated",
        f"edgekit.train.shapes seed {GENERATED_SEED}, {height}x{width}, value range {list(value_range)}",
    )


def _value_range(artifact: Artifact) -> tuple[float, float]:
    pre = (artifact.metadata or {}).get("preprocessing") or {}
    lo, hi = pre.get("value_range", (0.0, 1.0))
    return float(lo), float(hi)


def inputs_for(artifact: Artifact, reference: Path | None = None) -> Inputs:
    found = run_dir_inputs(reference) if reference is not None else None
    if found is not None:
        return found
    value_range = None
    if reference is not None and (reference / "preprocessing.json").is_file():
        from edgekit.train.preprocess import Preprocessing

        value_range = Preprocessing.load(reference).value_range
    return generated_inputs(artifact, value_range)
