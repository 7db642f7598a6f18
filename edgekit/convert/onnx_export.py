"""tf2onnx: the reference's serving signature → an fp32 ONNX model, the way the tf2onnx CLI does it.

Every ONNX quant mode starts from this one export (edgekit/convert/onnx.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from edgekit.errors import ConversionError

SIGNATURE = "serving_default"
MAX_WARNINGS = 50


@contextlib.contextmanager
def collect_warnings(names: tuple[str, ...], into: list[str]) -> Iterator[None]:
    """Record WARNING+ log records of the named loggers ("" = root) as artifact warnings."""

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = f"{record.name}: {record.getMessage()}"
            if message not in into and len(into) < MAX_WARNINGS:
                into.append(message)

    handler = _Collect(logging.WARNING)
    loggers = [logging.getLogger(n or None) for n in names]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


def export_fp32(saved_model: Path, opset: int, out: Path, warnings: list[str]) -> Path:
    """tf2onnx on the reference's serving signature, the way `python -m tf2onnx.convert --saved-model` does."""
    if not (saved_model / "saved_model.pb").is_file():
        raise ConversionError(
            f"no SavedModel at {saved_model}",
            hint="run the train step first; the reference folder holds saved_model/",
        )
    import tensorflow as tf
    from tf2onnx import convert, tf_loader

    try:
        with collect_warnings(("tf2onnx",), warnings), tf.device("/cpu:0"):
            frozen, inputs, outputs, tables, renames = tf_loader.from_saved_model(
                str(saved_model),
                None,
                None,
                tag="serve",
                signatures=[SIGNATURE],
                return_initialized_tables=True,
                return_tensors_to_rename=True,
            )
            # The public from_function/from_graph_def force continue_on_error=True, which leaves
            # unconvertible TF ops in the graph; the CLI path below stops on them instead.
            convert._convert_common(
                frozen,
                name=str(saved_model),
                continue_on_error=False,
                opset=opset,
                input_names=inputs,
                output_names=outputs,
                tensors_to_rename=renames,
                initialized_tables=tables,
                output_path=str(out),
            )
    except Exception as exc:  # tf2onnx raises bare ValueError/KeyError/RuntimeError; keep the reason
        reason = f"{type(exc).__name__}: {exc}"
        raise ConversionError(f"tf2onnx could not convert {saved_model} at opset {opset}: {reason}") from exc
    return out
