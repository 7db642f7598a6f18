"""tf2onnx: the reference's serving signature → an fp32 ONNX model, the way the tf2onnx CLI does it.

Every ONNX quant mode starts from this one export (edgekit/convert/onnx.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgekit.convert import onnx_lean
from edgekit.errors import ConversionError

SIGNATURE = "serving_default"
MAX_WARNINGS = 50
# weights above this go to OUT.name + '.data' (a ModelProto must serialize under 2 GiB)
EXTERNAL_DATA_BYTES = 2**31 - 2**27
EXTERNAL_MIN_BYTES = 1024  # smaller tensors stay inside the model file


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


class _OptimizerFailed(Exception):
    """One of tf2onnx's ONNX optimizers raised; tf2onnx's own path skips it and goes on."""


def export_fp32(saved_model: Path, opset: int, out: Path, warnings: list[str]) -> Path:
    """tf2onnx on the reference's serving signature, the way `python -m tf2onnx.convert --saved-model` does.

    The memory-lean path (edgekit/convert/onnx_lean.py) gives the same model; where it fails (one
    of tf2onnx's optimizers raising, say), the export is redone the way tf2onnx does it (which
    skips a failing optimizer), with a warning, so the outcome is tf2onnx's either way. Models whose weights exceed protobuf's 2 GiB limit
    are written with their tensors in one file beside OUT, named OUT.name + ".data".
    """
    if not (saved_model / "saved_model.pb").is_file():
        raise ConversionError(
            f"no SavedModel at {saved_model}",
            hint="run the train step first; the reference folder holds saved_model/",
        )
    import tensorflow as tf

    try:
        with collect_warnings(("tf2onnx",), warnings), tf.device("/cpu:0"):
            try:
                _export_lean(saved_model, opset, out)
            except Exception as failed:  # noqa: BLE001 - tf2onnx's own path decides, as it always did
                cause = failed.__cause__ if isinstance(failed, _OptimizerFailed) else failed
                warnings.append(
                    f"edgekit: the memory-lean tf2onnx export failed ({type(cause).__name__}: {cause}); "
                    "converted again the way tf2onnx does"
                )
                _export_upstream(saved_model, opset, out)
    except ConversionError:
        raise
    except Exception as exc:  # tf2onnx raises bare ValueError/KeyError/RuntimeError; keep the reason
        reason = f"{type(exc).__name__}: {exc}"
        raise ConversionError(f"tf2onnx could not convert {saved_model} at opset {opset}: {reason}") from exc
    return out


def _load_frozen(saved_model: Path, lean: bool) -> tuple[Any, list, list, dict, dict, dict[str, bytes]]:
    """tf2onnx's from_saved_model; LEAN: with edgekit's freeze and grappler (onnx_lean.py)."""
    import tensorflow as tf
    from tf2onnx import tf_loader

    weights: dict[str, bytes] = {}

    def lean_from_function(
        func: Any, input_names: list, output_names: list, large_model: bool = False
    ) -> Any:
        graph_def = tf_loader.fix_freezing_errors_part2(
            tf_loader.convert_variables_to_constants_large_model(func)
        )
        if any(n.op in ("AssignVariableOp", "AssignSubVariableOp") for n in graph_def.node):
            graph_def = tf_loader.fix_freezing_errors(
                graph_def
            )  # what tf2onnx does when freezing fails on them
        placeholders = {n.name: n for n in graph_def.node if n.op == "Placeholder"}
        input_names = [
            i
            for i in input_names
            if not (
                i.split(":")[0] in placeholders
                and placeholders[i.split(":")[0]].attr["dtype"].type == tf.resource.as_datatype_enum
            )
        ]
        keep = {i.split(":")[0] for i in input_names + output_names}
        graph_def, aside = onnx_lean.set_weights_aside(graph_def, keep)
        onnx_lean.release_memory()
        with tf.Graph().as_default():
            graph_def = tf_loader.tf_optimize(input_names, output_names, graph_def)
        weights.update(onnx_lean.put_weights_back(graph_def, aside))
        return graph_def

    original = tf_loader.from_function
    if lean:
        tf_loader.from_function = lean_from_function
    try:
        frozen, inputs, outputs, tables, renames = tf_loader.from_saved_model(
            str(saved_model),
            None,
            None,
            tag="serve",
            signatures=[SIGNATURE],
            return_initialized_tables=True,
            return_tensors_to_rename=True,
        )
    finally:
        tf_loader.from_function = original
    return frozen, inputs, outputs, tables, renames, weights


def _export_lean(saved_model: Path, opset: int, out: Path) -> None:
    import tensorflow as tf
    from tf2onnx import optimizer, tf_utils, tfonnx

    frozen, inputs, outputs, tables, renames, weights = _load_frozen(saved_model, lean=True)
    onnx_lean.release_memory()  # the loaded SavedModel and TensorFlow's copies of it are gone now
    weights.update(tf_utils.compress_graph_def(frozen))
    external = sum(len(v) for v in weights.values()) > EXTERNAL_DATA_BYTES
    with tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(frozen, name="")
        del frozen
        graph = tfonnx.process_tf_graph(
            tf_graph,
            continue_on_error=False,
            opset=opset,
            input_names=inputs,
            output_names=outputs,
            tensors_to_rename=renames,
            initialized_tables=tables,
            const_node_values=weights,
        )
    del tf_graph, weights
    onnx_lean.release_memory()
    with onnx_lean.fresh_node_protos():
        try:
            graph = optimizer.optimize_graph(graph, catch_errors=False)
        except Exception as exc:
            raise _OptimizerFailed() from exc
        model = graph.make_model(f"converted from {saved_model}")
    del graph
    onnx_lean.release_memory()
    if external:
        write_with_external_data(model, out)
    else:
        out.write_bytes(model.SerializeToString())


def _export_upstream(saved_model: Path, opset: int, out: Path) -> None:
    """tf2onnx's own path (the CLI's), copies and all."""
    from tf2onnx import convert

    frozen, inputs, outputs, tables, renames, _ = _load_frozen(saved_model, lean=False)
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


def write_with_external_data(model: Any, out: Path) -> None:
    """Write MODEL to OUT with its tensors in one file beside it, OUT.name + '.data' (ONNX's layout)."""
    import onnx

    onnx.save_model(
        model,
        str(out),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=out.name + ".data",
        size_threshold=EXTERNAL_MIN_BYTES,
    )
