"""The memory-lean TF.js conversion: tensorflowjs's own converter, with each weight held once.

tensorflowjs 4.22's `convert_tf_saved_model` holds many copies of a model's weights at once:
TensorFlow's freezing puts every variable's value into a GraphDef and rebuilds a function from
it, the frozen graph is serialized again for grappler, grappler copies it (weights included) in
each of its two passes, and the weight writer stacks every weight into one buffer before cutting
it into shards. For VGG16 (537 MB of weights) that peaks at 10.5 GiB. Here tensorflowjs's
converter runs its own steps, in its own order, with five of them replaced while it runs:

  freeze       a large variable's Const carries a short token instead of its bytes; the array
               is kept once, in a Weights registry (edgekit/convert/onnx_lean.py)
  grappler     runs with the large weights set aside: a weight read only by ops grappler never
               folds or rewrites for its value (onnx_lean.set_weights_aside chooses them) is a
               VariableV2 of the same dtype and shape for the duration, then a token Const again
  fold         edgekit's batch-norm folding (tfjs_fold.py) reads and writes weights by token
  read         a Const's value (tensorflowjs's values_from_const) is the registry's array
  write        weights are quantized and written shard by shard, never stacked in memory
               (`write_weights`: the same files and manifest as tensorflowjs's write_weights)

The weight shards are tensorflowjs's byte for byte and model.json is the same JSON document
(tests/convert/test_tfjs_lean.py); its bytes can differ only in the order of each node's
attributes, which tensorflowjs writes in protobuf map order, different from run to run.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np

from edgekit.convert import onnx_lean, tfjs_fold

CHUNK_ELEMENTS = 1 << 20  # quantization works on this many weight elements at a time


def convert(converter: ModuleType, saved_model: str, out: str, **kwargs: Any) -> None:
    """converter.convert_tf_saved_model(SAVED_MODEL, OUT, **KWARGS), the memory-lean way."""
    weights = onnx_lean.Weights()
    try:
        with _lean_steps(converter, weights):
            converter.convert_tf_saved_model(saved_model, out, **kwargs)
    finally:
        weights.arrays.clear()  # a failure's traceback keeps this frame: not its weights
        onnx_lean.release_memory()


@contextlib.contextmanager
def _lean_steps(converter: ModuleType, weights: onnx_lean.Weights) -> Iterator[None]:
    """tensorflowjs's steps, five of them replaced by their lean equivalents while converting."""
    from tensorflow.python.framework import dtypes

    fold_module = importlib.import_module("tensorflowjs.converters.fold_batch_norms")
    rewrite = importlib.import_module("tensorflowjs.converters.graph_rewrite_util")
    writer = importlib.import_module("tensorflowjs.write_weights")
    freeze, grappler = converter._freeze_saved_model_v2, converter._run_grappler
    values_from_const = rewrite.values_from_const

    def freeze_lean(concrete_func: Any, control_flow_v2: bool = False) -> Any:
        with weights.freezing():
            return freeze(concrete_func, control_flow_v2)

    def grappler_lean(config: Any, graph_def: Any, graph: Any, signature_def: Any) -> Any:
        ends = [*signature_def.inputs.values(), *signature_def.outputs.values()]
        lean, aside = set_weights_aside(graph_def, {t.name.split(":")[0] for t in ends}, weights)
        optimized = grappler(config, lean, graph, signature_def)
        del lean
        optimized = put_weights_back(optimized, aside, weights)
        _drop_unused(weights, graph_def, optimized)
        return optimized

    def fold_lean(graph_def: Any) -> Any:
        with weights.freezing():  # the scaled weights it makes are held by token too
            folded = tfjs_fold.fold_batch_norms(graph_def, read_const)
        _drop_unused(weights, graph_def, folded)
        return folded

    def read_const(node_def: Any) -> Any:
        if node_def.op == "Const":
            tensor = node_def.attr["value"].tensor
            array = weights.lookup(tensor.tensor_content)
            if array is not None:
                if array.dtype != dtypes.as_dtype(tensor.dtype).as_numpy_dtype or list(array.shape) != [
                    d.size for d in tensor.tensor_shape.dim
                ]:
                    raise ValueError(f"the weight held for {node_def.name} is not of its dtype and shape")
                return array
        return values_from_const(node_def)

    replaced = [
        (converter, "_freeze_saved_model_v2", freeze_lean),
        (converter, "_run_grappler", grappler_lean),
        (fold_module, "fold_batch_norms", fold_lean),
        (rewrite, "values_from_const", read_const),
        (writer, "write_weights", write_weights),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in replaced]
    try:
        for module, name, function in replaced:
            setattr(module, name, function)
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def _tokens(graph_def: Any) -> set[bytes]:
    found = set()
    for node in graph_def.node:
        if node.op == "Const":
            content = node.attr["value"].tensor.tensor_content
            if content.startswith(onnx_lean.TOKEN):
                found.add(content)
    for function in graph_def.library.function:
        for node in function.node_def:
            if node.op == "Const":
                content = node.attr["value"].tensor.tensor_content
                if content.startswith(onnx_lean.TOKEN):
                    found.add(content)
    return found


def _drop_unused(weights: onnx_lean.Weights, before: Any, after: Any) -> None:
    """Forget the arrays a step left unused: in graph BEFORE, no longer in graph AFTER (a folded weight's
    original, say). Arrays of other graphs (the initializer graph of a model with tables) stay."""
    for token in _tokens(before) - _tokens(after):
        weights.arrays.pop(int(token[len(onnx_lean.TOKEN) :]), None)


def set_weights_aside(
    graph_def: Any, keep: set[str], weights: onnx_lean.Weights
) -> tuple[Any, dict[str, bytes]]:
    """onnx_lean.set_weights_aside, with stubs that grappler gives the weight's own shape.

    grappler takes every Placeholder for a model input that may be fed any shape, and the
    `_input_shapes` its remapper writes into fused convolutions would then differ from
    tensorflowjs's. Each stub here is a VariableV2 of the weight's dtype and shape instead: no
    inputs (so grappler's topological order is the Const's), never folded, never merged with
    another, never fed.
    """
    lean, values = onnx_lean.set_weights_aside(graph_def, keep, weights)
    for node in lean.node:
        if node.name in values and node.op == "Placeholder":
            node.op = "VariableV2"
            node.attr["container"].s = b""
            node.attr["shared_name"].s = b""
    return lean, values


def put_weights_back(graph_def: Any, values: dict[str, bytes], weights: onnx_lean.Weights) -> Any:
    """GRAPH_DEF with the stubs of set_weights_aside turned back into Consts holding their weight's token."""
    from tensorflow.python.framework import dtypes

    for node in graph_def.node:
        if node.name in values and node.op == "VariableV2":
            dtype, shape = node.attr["dtype"].type, node.attr["shape"].shape
            content = values[node.name]
            if not content.startswith(onnx_lean.TOKEN):  # a constant of the graph itself: held by token now
                array = np.frombuffer(content, dtypes.as_dtype(dtype).as_numpy_dtype)
                content = weights.token(array.reshape([d.size for d in shape.dim]))
            for attr in ("shape", "container", "shared_name"):
                del node.attr[attr]
            tensor = node.attr["value"].tensor
            tensor.dtype = dtype
            tensor.tensor_shape.CopyFrom(shape)
            tensor.tensor_content = content
            node.op = "Const"
    return graph_def


def write_weights(
    weight_groups: list,
    write_dir: str,
    shard_size_bytes: int | None = 1024 * 1024 * 4,
    write_manifest: bool = True,
    quantization_dtype_map: dict | None = None,
) -> list:
    """tensorflowjs's write_weights, the same files and manifest, one weight in memory at a time."""
    import json

    from tensorflowjs import quantization
    from tensorflowjs import write_weights as upstream

    upstream._assert_weight_groups_valid(weight_groups)
    upstream._assert_shard_size_bytes_valid(shard_size_bytes)
    upstream._assert_no_duplicate_weight_names(weight_groups)
    manifest = []
    for group_index, group in enumerate(weight_groups):
        for entry in group:
            upstream._auto_convert_weight_entry(entry)
        names = [entry["name"] for entry in group]
        dtypes = quantization.map_layers_to_quantization_dtype(names, quantization_dtype_map)
        for entry in group:
            upstream._assert_valid_weight_entry(entry)
        plans = [_Plan(entry, dtypes.get(entry["name"])) for entry in group]
        total = sum(plan.nbytes for plan in plans)
        shard = total if shard_size_bytes is None else shard_size_bytes
        count = int(math.ceil(float(total) / shard))
        paths = [f"group{group_index + 1}-shard{i + 1}of{count}.bin" for i in range(count)]
        with _Shards(write_dir, paths, shard) as shards:
            for plan in plans:
                for chunk in plan.chunks():
                    shards.write(chunk)
        manifest.append({"paths": paths, "weights": [plan.manifest() for plan in plans]})
    if write_manifest:
        with open(os.path.join(write_dir, "weights_manifest.json"), "wb") as f:
            f.write(json.dumps(manifest).encode())
    return manifest


class _Plan:
    """One weight entry: its bytes as written (quantized where asked), in chunks, and its manifest entry."""

    def __init__(self, entry: dict, dtype: Any) -> None:
        self.name, self.data = entry["name"], entry["data"]
        # tensorflowjs quantizes float32 weights only
        self.dtype = dtype if dtype is not None and self.data.dtype == "float32" else None
        self.quantization: dict[str, Any] | None = None
        self.strings: bytes | None = None
        if self.data.dtype == object:
            from tensorflowjs import write_weights as upstream

            self.strings = upstream._serialize_string_array(self.data)
            self.nbytes = len(self.strings)
        elif self.dtype is not None:
            self.nbytes = self.data.size * np.dtype(self.dtype).itemsize
        else:
            self.nbytes = self.data.nbytes

    def chunks(self) -> Iterator[memoryview | bytes]:
        if self.strings is not None:
            yield self.strings
            return
        flat = np.ascontiguousarray(self.data).reshape(-1)
        if self.dtype is None:
            yield memoryview(flat.view(np.uint8).data) if flat.size else b""
            return
        quantize, self.quantization = quantizer(flat, self.dtype)
        for start in range(0, flat.size, CHUNK_ELEMENTS):
            yield memoryview(quantize(flat[start : start + CHUNK_ELEMENTS]).view(np.uint8).data)

    def manifest(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "shape": list(self.data.shape)}
        if self.quantization is None and self.dtype is None:
            entry["dtype"] = "string" if self.data.dtype == object else self.data.dtype.name
            return entry
        assert self.quantization is not None
        entry["dtype"] = self.data.dtype.name
        entry["quantization"] = {"dtype": np.dtype(self.dtype).name, **self.quantization}
        entry["quantization"]["original_dtype"] = self.data.dtype.name
        return entry


def quantizer(flat: np.ndarray, dtype: Any) -> tuple[Any, dict[str, Any]]:
    """tensorflowjs's quantize_weights(FLAT, DTYPE) as a function applied chunk by chunk, and its metadata.

    The same arithmetic, element by element, as tensorflowjs.quantization.quantize_weights: the
    min and max of the whole weight first, then each chunk rescaled and rounded.
    """
    from tensorflowjs import quantization

    if dtype == np.float16:
        return (lambda chunk: chunk.astype(np.float16)), {}
    mins = [flat[s : s + CHUNK_ELEMENTS].min() for s in range(0, flat.size, CHUNK_ELEMENTS)]
    maxs = [flat[s : s + CHUNK_ELEMENTS].max() for s in range(0, flat.size, CHUNK_ELEMENTS)]
    min_val = np.min(np.array(mins, flat.dtype)).astype(np.float64)
    max_val = np.max(np.array(maxs, flat.dtype)).astype(np.float64)
    if min_val == max_val:
        return (lambda chunk: np.zeros_like(chunk, dtype=dtype)), {"min": min_val, "scale": 1.0}
    scale, min_val, max_val = quantization._get_affine_quantization_range(min_val, max_val, dtype)

    def quantize(chunk: np.ndarray) -> np.ndarray:
        return np.round((chunk.clip(min_val, max_val) - min_val) / scale).astype(dtype)

    return quantize, {"min": min_val, "scale": scale}


class _Shards:
    """Files PATHS in WRITE_DIR, each SIZE bytes but the last, written as one stream."""

    def __init__(self, write_dir: str, paths: list[str], size: int) -> None:
        self.write_dir, self.paths, self.size = write_dir, paths, size
        self.index, self.left = -1, 0
        self.file: BinaryIO | None = None

    def __enter__(self) -> _Shards:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()

    def write(self, data: memoryview | bytes) -> None:
        view = memoryview(data)
        while len(view):
            if self.left == 0:
                self._next()
            take = min(self.left, len(view))
            assert self.file is not None
            self.file.write(view[:take])
            view, self.left = view[take:], self.left - take

    def _next(self) -> None:
        if self.file is not None:
            self.file.close()
        self.index += 1
        self.file = open(os.path.join(self.write_dir, self.paths[self.index]), "wb")  # noqa: SIM115
        self.left = self.size
