"""tf2onnx: the reference's serving signature → an fp32 ONNX model, the way the tf2onnx CLI does it.

Every ONNX quant mode starts from this one export (edgekit/convert/onnx.py).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.convert import onnx_external, onnx_lean
from edgekit.errors import ConversionError

SIGNATURE = "serving_default"
MAX_WARNINGS = 50
# SavedModels with more variable bytes than this are frozen in a process of their own (_freeze_apart)
FREEZE_APART_BYTES = 128 * 1024**2


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


def _load_frozen(
    saved_model: Path, weights: onnx_lean.Weights | None
) -> tuple[Any, list, list, dict, dict, dict[str, bytes]]:
    """tf2onnx's from_saved_model; with WEIGHTS, edgekit's freeze and grappler (onnx_lean.py) holding them."""
    import tensorflow as tf
    from tf2onnx import tf_loader

    constants: dict[str, bytes] = {}

    def lean_from_function(
        func: Any, input_names: list, output_names: list, large_model: bool = False
    ) -> Any:
        held = weights
        assert held is not None
        with held.freezing():
            graph_def = tf_loader.convert_variables_to_constants_large_model(func)
        graph_def = tf_loader.fix_freezing_errors_part2(graph_def)
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
        graph_def, aside = onnx_lean.set_weights_aside(graph_def, keep, held)
        onnx_lean.release_memory()
        with tf.Graph().as_default():
            graph_def = tf_loader.tf_optimize(input_names, output_names, graph_def)
        constants.update(onnx_lean.put_weights_back(graph_def, aside))
        return graph_def

    original = tf_loader.from_function
    if weights is not None:
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
    return frozen, inputs, outputs, tables, renames, constants


def _export_lean(saved_model: Path, opset: int, out: Path) -> None:
    from tf2onnx import tf_utils

    weights = onnx_lean.Weights()
    with tempfile.TemporaryDirectory(prefix="edgekit-freeze-") as tmp:
        if _variables_bytes(saved_model) > FREEZE_APART_BYTES:
            frozen, inputs, outputs, tables, renames, constants = _freeze_apart(
                saved_model, Path(tmp), weights
            )
        else:
            frozen, inputs, outputs, tables, renames, constants = _load_frozen(saved_model, weights)
            onnx_lean.release_memory()  # the loaded SavedModel and TensorFlow's copies of it are gone now
            constants.update(tf_utils.compress_graph_def(frozen))
        _convert_frozen(saved_model, opset, out, weights, frozen, inputs, outputs, tables, renames, constants)


def _variables_bytes(saved_model: Path) -> int:
    return sum(f.stat().st_size for f in (saved_model / "variables").glob("*") if f.is_file())


def _freeze_apart(
    saved_model: Path, tmp: Path, weights: onnx_lean.Weights
) -> tuple[Any, list, list, dict, dict, dict[str, bytes]]:
    """Load, freeze and optimize in a short-lived process (`python -m edgekit.convert.onnx_export`).

    TensorFlow keeps memory it used for the loaded model; that process gives it all back when it
    ends. It leaves the frozen graph (weights as tokens), the weight arrays (.npy, read back here
    memory-mapped) and the rest of tf2onnx's loader results in TMP.
    """
    import pickle

    from tensorflow.core.framework import graph_pb2

    done = subprocess.run(
        [sys.executable, "-m", "edgekit.convert.onnx_export", str(saved_model), str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()][-3:]
        raise RuntimeError(f"the freezing process failed (exit status {done.returncode}): {' / '.join(tail)}")
    meta = pickle.loads((tmp / "loaded.pkl").read_bytes())
    frozen = graph_pb2.GraphDef.FromString((tmp / "frozen.pb").read_bytes())
    weights.arrays = {key: np.load(tmp / f"w{key}.npy", mmap_mode="r") for key in meta.pop("weights")}
    return frozen, meta["inputs"], meta["outputs"], meta["tables"], meta["renames"], meta["constants"]


def _freeze_main(saved_model: Path, tmp: Path) -> None:
    """The freezing process: _load_frozen, then its results written to TMP for _freeze_apart."""
    import pickle

    from tf2onnx import tf_utils

    weights = onnx_lean.Weights()
    frozen, inputs, outputs, tables, renames, constants = _load_frozen(saved_model, weights)
    constants.update(tf_utils.compress_graph_def(frozen))
    for key, array in weights.arrays.items():
        np.save(tmp / f"w{key}.npy", np.ascontiguousarray(array))
    (tmp / "frozen.pb").write_bytes(frozen.SerializeToString())
    loaded = {
        "inputs": inputs,
        "outputs": outputs,
        "tables": tables,
        "renames": renames,
        "constants": constants,
    }
    (tmp / "loaded.pkl").write_bytes(pickle.dumps({**loaded, "weights": list(weights.arrays)}))


def _convert_frozen(
    saved_model: Path,
    opset: int,
    out: Path,
    weights: onnx_lean.Weights,
    frozen: Any,
    inputs: list,
    outputs: list,
    tables: dict,
    renames: dict,
    constants: dict[str, bytes],
) -> None:
    import tensorflow as tf
    from tf2onnx import optimizer, tfonnx

    total = sum(len(v) for v in constants.values()) + sum(a.nbytes for a in weights.arrays.values())
    with tf.Graph().as_default() as tf_graph, weights.reading(), onnx_lean.fresh_node_protos():
        tf.import_graph_def(frozen, name="")
        frozen.Clear()
        graph = tfonnx.process_tf_graph(
            tf_graph,
            continue_on_error=False,
            opset=opset,
            input_names=inputs,
            output_names=outputs,
            tensors_to_rename=renames,
            initialized_tables=tables,
            const_node_values=constants,
        )
    del tf_graph
    constants.clear()
    weights.arrays.clear()
    onnx_lean.release_memory()
    with onnx_lean.fresh_node_protos():
        try:
            graph = optimizer.optimize_graph(graph, catch_errors=False)
        except Exception as exc:
            raise _OptimizerFailed() from exc
        proto, opset_imports = _make_graph(graph, f"converted from {saved_model}")
    del graph
    onnx_lean.release_memory()  # tf2onnx's graph (its nodes and tensors) goes before the ModelProto copy
    model = _model(proto, opset_imports)
    del proto
    if total > onnx_external.EXTERNAL_DATA_THRESHOLD:  # a ModelProto must serialize under 2 GiB
        write_with_external_data(model, out)
    else:
        out.write_bytes(model.SerializeToString())


def _make_graph(graph: Any, doc: str) -> tuple[Any, tuple[int, list]]:
    """The first half of tf2onnx's Graph.make_model (tf2onnx 1.17): the GraphProto and the opsets."""
    return graph.make_graph(doc, "tf2onnx"), (graph.opset, list(graph.extra_opset or []))


def _model(proto: Any, opset_imports: tuple[int, list]) -> Any:
    """The second half of tf2onnx's Graph.make_model: the ModelProto, its producer, opsets, IR version."""
    import tf2onnx
    from onnx import helper
    from tf2onnx import constants

    opset, extra = opset_imports
    model = helper.make_model(
        proto,
        producer_name="tf2onnx",
        producer_version=tf2onnx.__version__ + " " + tf2onnx.version.git_version[:6],
        opset_imports=[helper.make_opsetid(constants.ONNX_DOMAIN, opset), constants.AI_ONNX_ML_OPSET, *extra],
    )
    model.ir_version = constants.OPSET_TO_IR_VERSION.get(opset, model.ir_version)
    return model


def _export_upstream(saved_model: Path, opset: int, out: Path) -> None:
    """tf2onnx's own path (the CLI's), copies and all."""
    from tf2onnx import convert

    frozen, inputs, outputs, tables, renames, _ = _load_frozen(saved_model, None)
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
        size_threshold=onnx_external.INLINE_MAX_BYTES,
    )


if __name__ == "__main__":  # the freezing process of _freeze_apart
    _freeze_main(Path(sys.argv[1]), Path(sys.argv[2]))
