"""What every runtime shares: a loaded artifact that runs itself.

A runtime module registers a loader `load(artifact, threads) -> Session`. Parity and bench both
go through Session, so what is measured is what was checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgekit.artifact import Artifact, TensorSpec
from edgekit.errors import RuntimeLoadError
from edgekit.fsutil import sha256_file
from edgekit.registry import Registry


class Session(Protocol):
    artifact: Artifact
    input: TensorSpec
    output: TensorSpec

    def prepare(self, x: np.ndarray) -> Any:
        """Turn one float32 sample batch [1, ...] (shared preprocessing) into the runtime's native input."""

    def invoke(self, prepared: Any) -> Any:
        """Run once on a prepared input and return the raw output; this is what bench times."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 inputs [N, ...] → float32 outputs [N, ...], dequantized; loops over the batch."""

    def info(self) -> dict[str, Any]:
        """Runtime name, version, threads, delegate: recorded with every result."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class RuntimePlugin:
    name: str
    formats: tuple[str, ...]
    load: Callable[[Artifact, int], Session]
    description: str = ""
    # Install parts it needs to run (checked by `edgekit doctor`): Python modules by import name,
    # "node" (Node.js 18+), "js-runner" (the TF.js runner's npm packages) or "chromium".
    requires: tuple[str, ...] = ()


RUNTIMES: Registry[RuntimePlugin] = Registry("runtime")


def register_runtime(plugin: RuntimePlugin, aliases: tuple[str, ...] = ()) -> RuntimePlugin:
    return RUNTIMES.register(plugin.name, plugin, description=plugin.description, aliases=aliases)


def quantize(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """float → the tensor's integer dtype with its scale/zero point (identity for float tensors)."""
    if spec.scale is None or np.dtype(spec.dtype).kind == "f":
        return x.astype(spec.dtype)
    info = np.iinfo(np.dtype(spec.dtype))
    q = np.round(x / spec.scale + (spec.zero_point or 0))
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    if spec.scale is None or np.dtype(spec.dtype).kind == "f":
        return q.astype(np.float32)
    return ((q.astype(np.float32) - (spec.zero_point or 0)) * spec.scale).astype(np.float32)


def checked_model_file(artifact: Artifact, fmt: str, runtime: str) -> Path:
    """The artifact's model file, after checking it is FMT, exists, and (for single-file formats)
    still has the sha256 it was converted with: parity and bench must run the checked bytes."""
    if artifact.format != fmt:
        raise RuntimeLoadError(
            f"{runtime} runs {fmt} artifacts; {artifact.path} is a {artifact.format} artifact"
        )
    path = Path(artifact.path)
    if not path.is_file():
        raise RuntimeLoadError(f"model file {path} does not exist", hint="run the convert step again")
    # A folder format's hash (TF.js: model.json and its shards) covers the folder: only single-file formats are checked here.
    if not _folder_format(fmt) and artifact.sha256 and sha256_file(path) != artifact.sha256:
        raise RuntimeLoadError(
            f"{path} changed since it was converted: its sha256 differs from artifact.json",
            hint="run the convert step again to rebuild the artifact",
        )
    return path


def _folder_format(fmt: str) -> bool:
    from edgekit.convert import FORMATS

    return fmt in FORMATS and FORMATS.get(fmt).folder
