"""The result of resolving a source, as every later step sees it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ModuleInfo:
    """What training and calibration need to feed the module correctly."""

    input_size: tuple[int, int]  # (height, width) the module expects
    value_range: tuple[float, float] = (0.0, 1.0)  # TF Hub image convention: float in [0, 1]
    output_dim: int | None = None  # feature vector length, when known
    origin: str = "signature"  # where these facts came from: "signature" | "catalogue" | "recipe"


@dataclass
class SourceSettings:
    cache_dir: Path | None = None
    lockfile: Path | None = None
    offline: bool = False
    allow_publishers: tuple[str, ...] = ("google", "tensorflow", "keras")
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResolvedSource:
    spec: str  # what the user wrote
    canonical: str  # one id per model, whatever the spelling
    kind: str  # local | tfhub | kaggle | keras
    path: Path  # local SavedModel folder, ready for hub.KerasLayer
    sha256: str  # hash of the module's files
    info: ModuleInfo
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d
