"""What `edgekit bench PATH...` measures: run directories, artifact folders and bare model files.

Only paths are examined here. Reading a model's bytes (describing a bare file, loading it) happens
in the worker process, so a file that crashes its runtime cannot take the bench down with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgekit.artifact import ARTIFACT_JSON
from edgekit.convert import FORMATS, folder_format, format_of_file
from edgekit.errors import UsageError


@dataclass(frozen=True)
class BenchTarget:
    kind: str  # "artifact-dir" (has artifact.json) | "file" (bare .tflite/.onnx/model.json)
    path: Path
    format: str | None  # known without reading the model: from artifact.json's folder name or the suffix
    reference: Path | None = None  # the run's reference folder: bench inputs and preprocessing

    @property
    def label(self) -> str:
        return self.path.name if self.kind == "artifact-dir" else str(self.path)

    def to_request(self) -> dict:
        return {
            "kind": self.kind,
            "path": str(self.path.resolve()),
            "format": self.format,
            "reference": str(self.reference.resolve()) if self.reference else None,
        }


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "artifacts").is_dir()


def expand(paths: list[Path]) -> list[BenchTarget]:
    """Every artifact the given paths name, in a stable order. Unusable paths are usage errors."""
    targets: list[BenchTarget] = []
    for path in paths:
        targets += _expand_one(Path(path))
    return targets


def _expand_one(path: Path) -> list[BenchTarget]:
    if is_run_dir(path):
        folders = sorted(p.parent for p in (path / "artifacts").glob(f"*/{ARTIFACT_JSON}"))
        if not folders:
            raise UsageError(
                f"{path} is a run directory with no artifacts (no artifacts/*/{ARTIFACT_JSON})",
                hint="run `edgekit convert` first",
            )
        return [_artifact_dir(f, path / "reference") for f in folders]
    if path.is_dir() and (path / ARTIFACT_JSON).is_file():
        run = path.parent.parent
        return [_artifact_dir(path, run / "reference" if is_run_dir(run) else None)]
    if path.is_dir() and (fmt := folder_format(path)) is not None:  # a folder format's files (TF.js)
        return [BenchTarget("file", path / FORMATS.get(fmt).model_file, fmt)]
    if path.is_file():
        fmt = format_of_file(path)
        if fmt is not None:
            return [BenchTarget("file", path, fmt)]
        raise UsageError(
            f"{path}: cannot tell the format from the name",
            hint=f"give a model file ({_known_files()}), an artifact folder or a run directory",
        )
    raise UsageError(
        f"{path} does not exist" if not path.exists() else f"{path} holds no model edgekit can benchmark",
        hint="give a run directory (out/<recipe>/<target>/), an artifact folder, or a model file",
    )


def _artifact_dir(folder: Path, reference: Path | None) -> BenchTarget:
    fmt = folder.name.split("-", 1)[0] or None
    return BenchTarget("artifact-dir", folder, fmt, reference if reference and reference.is_dir() else None)


def _known_files() -> str:
    """'*.onnx, *.tflite, a TF.js model.json': the model files the registered formats name."""
    return ", ".join(
        f"a {p.display} {p.model_file}" if p.folder else ", ".join(f"*{x}" for x in p.suffixes)
        for p in (e.value for e in FORMATS)
        if p.suffixes
    )
