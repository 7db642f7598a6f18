"""Graph analysis of converted artifacts: `analyze(path)` for the formats whose plugin names a
graph reader (`FormatPlugin.analysis`: .tflite and .onnx)."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import UsageError
from edgekit.targets.analysis.graph import OP_CLASSES, GraphAnalysis, OpInfo, TensorInfo

__all__ = ["OP_CLASSES", "GraphAnalysis", "OpInfo", "TensorInfo", "analyze"]


def analyze(artifact_path: Path) -> GraphAnalysis:
    """Per-op rows, totals and peak activation memory of a model file of a format with a graph
    reader (its plugin's `analysis`: .tflite and .onnx).

    An artifact folder (with artifact.json) is accepted too: its model file is analysed.
    """
    path = Path(artifact_path)
    try:
        if path.is_dir():
            candidates = sorted(p for s in _analysable_suffixes() for p in path.glob(f"*{s}"))
            if len(candidates) != 1:
                raise UsageError(
                    f"{path}: expected one {_or(_analysable_suffixes())} file in the folder, found {len(candidates)}"
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
    from edgekit.convert import FORMATS, format_of_file, resolve_hook

    fmt = format_of_file(path)
    reader = FORMATS.get(fmt).analysis if fmt is not None else None
    if reader is None:
        raise UsageError(
            f"cannot analyse {path}: unknown model file type {path.suffix.lower()!r}",
            hint=f"graph analysis reads {_or(_analysable_suffixes())} files; a format without a graph "
            "reader (TF.js) is estimated from the tflite artifact of the same reference",
        )
    return resolve_hook(reader)(path)


def _analysable_suffixes() -> list[str]:
    from edgekit.convert import FORMATS

    return [s for e in FORMATS if e.value.analysis is not None for s in e.value.suffixes]


def _or(items: list[str]) -> str:
    return " or ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " or " + items[-1]
