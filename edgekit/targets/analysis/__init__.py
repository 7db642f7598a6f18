"""Graph analysis of converted artifacts: `analyze(path)` for .tflite and .onnx files."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import UsageError
from edgekit.targets.analysis.graph import OP_CLASSES, GraphAnalysis, OpInfo, TensorInfo

__all__ = ["OP_CLASSES", "GraphAnalysis", "OpInfo", "TensorInfo", "analyze"]


def analyze(artifact_path: Path) -> GraphAnalysis:
    """Per-op rows, totals and peak activation memory of a .tflite or .onnx model file.

    An artifact folder (with artifact.json) is accepted too: its model file is analysed.
    """
    path = Path(artifact_path)
    try:
        if path.is_dir():
            candidates = sorted([*path.glob("*.tflite"), *path.glob("*.onnx")])
            if len(candidates) != 1:
                raise UsageError(
                    f"{path}: expected one .tflite or .onnx file in the folder, found {len(candidates)}"
                )
            path = candidates[0]
        if not path.is_file():
            raise UsageError(f"cannot analyse {path}: no such file")
    except (
        OSError,
        ValueError,
    ) as exc:  # a name too long or with a NUL byte (paths come from JSON files too)
        raise UsageError(
            f"cannot analyse {str(path)[:120]!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        from edgekit.targets.analysis.tflite import analyze_tflite

        return analyze_tflite(path)
    if suffix == ".onnx":
        from edgekit.targets.analysis.onnx import analyze_onnx

        return analyze_onnx(path)
    raise UsageError(
        f"cannot analyse {path}: unknown model file type {suffix!r}",
        hint="graph analysis reads .tflite and .onnx files; for a TF.js model analyse the tflite artifact of the same reference",
    )
