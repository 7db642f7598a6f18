"""An artifact: one converted model file or folder plus the metadata every later step reads.

`artifact.json` sits beside the model inside the artifact's own folder:
    <run>/artifacts/<format>-<quant>/model.tflite | model.onnx | model.json (+ shards)
    <run>/artifacts/<format>-<quant>/artifact.json
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import RuntimeLoadError
from edgekit.fsutil import atomic_write_json

ARTIFACT_JSON = "artifact.json"


@dataclass
class TensorSpec:
    name: str
    shape: list[int]
    dtype: str  # numpy dtype name: float32, int8, uint8, ...
    scale: float | None = None  # set for quantized tensors: real = scale * (q - zero_point)
    zero_point: int | None = None


@dataclass
class Artifact:
    format: str
    quant: str
    path: Path  # the model file (tflite/onnx) or the model.json (tfjs)
    sha256: str
    size_bytes: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    metadata: dict[str, Any] = field(default_factory=dict)  # converter settings, warnings, analysis

    @property
    def name(self) -> str:
        return f"{self.format}-{self.quant}"

    @property
    def folder(self) -> Path:
        return self.path.parent

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = self.path.name
        return d

    def save(self) -> Path:
        return atomic_write_json(self.folder / ARTIFACT_JSON, self.to_dict())

    @classmethod
    def load(cls, folder: str | Path) -> Artifact:
        folder = Path(folder)
        meta = folder / ARTIFACT_JSON
        if not meta.is_file():
            raise RuntimeLoadError(f"{folder} is not an edgekit artifact folder: {ARTIFACT_JSON} is missing")
        try:
            d = json.loads(meta.read_text())
            d["path"] = folder / d["path"]
            d["inputs"] = [TensorSpec(**t) for t in d["inputs"]]
            d["outputs"] = [TensorSpec(**t) for t in d["outputs"]]
            return cls(**d)
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeLoadError(f"{meta} is not a valid artifact description: {exc}") from exc
