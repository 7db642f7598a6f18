"""The memory-lean parts of the tf2onnx export (edgekit/convert/onnx_export.py).

tf2onnx's own path holds many copies of a model's weights at once: TensorFlow's freezing rebuilds
a function from the frozen graph, grappler copies the graph (weights included) several times,
and every tf2onnx optimizer leaves one more copy of every constant behind (Node.update_proto
re-adds each node's attributes to the same protobuf message, whose arena frees nothing until the
message goes). For ResNet50 (94 MB of weights) that is 9 GB. Here:

  freeze       variables to constants without rebuilding a function (tf2onnx's large-model freeze)
  grappler     runs on the graph with its large weights set aside: a weight read only by ops that
               grappler's constant folding never folds or rewrites for its value (convolutions,
               matmuls, batch norms, gathers) becomes a Placeholder of the same dtype and shape for
               the duration, named as grappler would name the folded constant; the weight's bytes
               go straight to tf2onnx as `const_node_values` (its large-model mechanism)
  optimizers   tf2onnx's ONNX optimizers run without their backup copies, and every node gets a
               fresh NodeProto when its attributes are written back (no arena growth)

The ONNX model that comes out is the same as tf2onnx's (tests/convert/test_onnx_export.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Iterator
from typing import Any

import numpy as np

STUB_MIN_BYTES = 64 * 1024  # weights smaller than this stay in the graph grappler sees
# ops that read a weight without grappler's constant folding looking at its value
WEIGHT_OPS = frozenset(
    {
        "Conv2D",
        "Conv3D",
        "DepthwiseConv2dNative",
        "Conv2DBackpropInput",
        "Conv3DBackpropInputV2",
        "MatMul",
        "BatchMatMul",
        "BatchMatMulV2",
        "BatchMatMulV3",
        "FusedBatchNorm",
        "FusedBatchNormV2",
        "FusedBatchNormV3",
        "GatherV2",
    }
)
_CONV_OPS = frozenset({"Conv2D", "Conv3D", "DepthwiseConv2dNative"})
_MUL_OPS = frozenset({"Mul", "MulNoNan"})  # grappler pushes a constant Mul after a conv into its filter


TOKEN = b"edgekit-weight:"  # tensor_content of a Const whose value is held in a Weights registry


class Weights:
    """Weight arrays kept once, by token, while the graphs that read them hold only the token.

    TensorFlow's freezing would copy every variable's value into the GraphDef, grappler would
    copy the GraphDef several times, and tf2onnx would copy each constant's bytes three times on
    its way to an ONNX tensor. With `freezing()`, a large frozen variable's Const carries a short
    token instead of its bytes; `reading()` lets tf2onnx read the array behind a token as if it
    had decoded the bytes, and hands each array over when tf2onnx makes its ONNX tensor, so
    arrays and tensors never both hold all the weights. (A graph whose functions hold the same
    weight as its main graph reads a token twice: the KeyError sends the export to tf2onnx's own
    path.)
    """

    def __init__(self) -> None:
        self.arrays: dict[int, np.ndarray] = {}
        self.issued = 0  # keys come from a counter: one is never reused once its array is taken

    def token(self, array: np.ndarray) -> bytes:
        key, self.issued = self.issued, self.issued + 1
        self.arrays[key] = array
        return TOKEN + str(key).encode()

    def lookup(self, content: bytes) -> np.ndarray | None:
        if not content.startswith(TOKEN):
            return None
        return self.arrays[int(content[len(TOKEN) :])]

    def take(self, content: bytes) -> np.ndarray | None:
        """The array behind a token, handed over: a second read of the token fails (KeyError)."""
        if not content.startswith(TOKEN):
            return None
        return self.arrays.pop(int(content[len(TOKEN) :]))

    @contextlib.contextmanager
    def freezing(self) -> Iterator[None]:
        """While freezing: large arrays become token Consts (TensorFlow's make_tensor_proto, wrapped)."""
        from tensorflow.core.framework import tensor_pb2
        from tensorflow.python.framework import dtypes, tensor_shape, tensor_util

        original = tensor_util.make_tensor_proto

        def make_tensor_proto(
            values: Any, dtype: Any = None, shape: Any = None, *args: Any, **kwargs: Any
        ) -> Any:
            if (
                isinstance(values, np.ndarray)
                and values.nbytes >= STUB_MIN_BYTES
                and values.dtype.kind in "fiub"
            ):
                proto = tensor_pb2.TensorProto(
                    dtype=dtypes.as_dtype(values.dtype).as_datatype_enum,
                    tensor_shape=tensor_shape.as_shape(values.shape).as_proto(),
                )
                proto.tensor_content = self.token(values)
                return proto
            return original(values, dtype, shape, *args, **kwargs)

        tensor_util.make_tensor_proto = make_tensor_proto
        try:
            yield
        finally:
            tensor_util.make_tensor_proto = original

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """While tf2onnx reads the frozen graph: a token Const's value is its array (no copy)."""
        from onnx import TensorProto
        from tf2onnx import tf_loader, tf_utils, tfonnx

        get_data, to_onnx = tf_utils.get_tf_tensor_data, tf_utils.tf_to_onnx_tensor
        resolve = tf_loader.resolve_functions
        listing = []

        def resolve_functions(tf_graph: Any) -> Any:
            # tf2onnx converts the whole graph here only to list the functions it calls, and
            # drops the result: a weight needs no ONNX tensor for that
            listing.append(True)
            try:
                return resolve(tf_graph)
            finally:
                listing.pop()

        def get_tf_tensor_data(tensor: Any) -> Any:
            array = self.lookup(tensor.tensor_content)
            return array if array is not None else get_data(tensor)

        def tf_to_onnx_tensor(tensor: Any, name: str = "") -> Any:
            if listing and tensor.tensor_content.startswith(TOKEN):
                return TensorProto(name=name)
            array = self.take(tensor.tensor_content)
            if array is None:
                return to_onnx(tensor, name=name)
            from onnx import numpy_helper

            return numpy_helper.from_array(np.ascontiguousarray(array), name=name)

        tf_utils.get_tf_tensor_data, tf_utils.tf_to_onnx_tensor = get_tf_tensor_data, tf_to_onnx_tensor
        tfonnx.resolve_functions = resolve_functions
        try:
            yield
        finally:
            tf_utils.get_tf_tensor_data, tf_utils.tf_to_onnx_tensor = get_data, to_onnx
            tfonnx.resolve_functions = resolve


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _node_name(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def _is_trivial(content: bytes | np.ndarray, dtype: Any) -> bool:
    """All zeros or all ones: grappler simplifies arithmetic on such constants, so it must see them."""
    from tensorflow.python.framework import dtypes

    values = (
        content
        if isinstance(content, np.ndarray)
        else np.frombuffer(content, dtypes.as_dtype(dtype).as_numpy_dtype)
    )
    flat = values.reshape(-1)
    step = 1 << 20
    zeros = ones = True
    for start in range(0, flat.size, step):  # in chunks: no temporary the size of the weight
        chunk = flat[start : start + step]
        zeros = zeros and not chunk.any()
        ones = ones and bool((chunk == 1).all())
        if not (zeros or ones):
            return False
    return zeros or ones


def set_weights_aside(graph_def: Any, keep: set[str], weights: Weights) -> tuple[Any, dict[str, bytes]]:
    """A copy of GRAPH_DEF with its large weights as Placeholders, and the weights' bytes by node name.

    A weight is a Const read, directly or through a chain of Identities (a frozen variable read,
    function-call boundaries), only by WEIGHT_OPS; it is named after the chain's last Identity, as
    grappler names the constant it folds the chain into.
    Node names in KEEP (the signature's inputs and outputs) are never touched.
    """
    from tensorflow.core.framework import graph_pb2

    nodes = {n.name: n for n in graph_def.node}
    users: dict[str, list[tuple[Any, bool]]] = {}
    for node in graph_def.node:
        for tensor in node.input:
            users.setdefault(_node_name(tensor), []).append((node, tensor.startswith("^")))

    def weight_reader(node: Any) -> bool:
        if node.op not in WEIGHT_OPS:
            return False
        if node.op in _CONV_OPS:
            return not any(u.op in _MUL_OPS for u, _ in users.get(node.name, []))
        return True

    aside: dict[str, tuple[Any, list[str]]] = {}  # final name -> (Const node, the Identities it goes through)
    for node in graph_def.node:
        if node.op != "Const" or node.name in keep or any(i.startswith("^") for i in node.input):
            continue
        tensor = node.attr["value"].tensor
        array = weights.lookup(tensor.tensor_content)
        if array is None and len(tensor.tensor_content) < STUB_MIN_BYTES:
            continue
        readers, chain = users.get(node.name, []), []
        while len(readers) == 1 and readers[0][0].op == "Identity" and not readers[0][1]:
            chain.append(readers[0][0])
            readers = users.get(chain[-1].name, [])
        if any(i.name in keep or len(i.input) != 1 for i in chain):
            continue
        # a control edge to a NoOp (a function's automatic control dependencies) orders, never reads
        readers = [(r, control) for r, control in readers if not (control and r.op == "NoOp")]
        if not readers or any(control or not weight_reader(r) for r, control in readers):
            continue
        if _is_trivial(array if array is not None else tensor.tensor_content, tensor.dtype):
            continue
        aside[chain[-1].name if chain else node.name] = (node, [i.name for i in chain])

    skipped = {identity for _, chain in aside.values() for identity in chain}
    by_const = {const.name: name for name, (const, _) in aside.items()}
    values: dict[str, bytes] = {}
    lean = graph_pb2.GraphDef()
    lean.versions.CopyFrom(graph_def.versions)
    lean.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.name in skipped:
            continue
        if node.name not in by_const:
            copy = lean.node.add()
            copy.CopyFrom(node)
            if node.op == "Const":  # a token Const grappler must see: its bytes go back in
                array = weights.lookup(node.attr["value"].tensor.tensor_content)
                if array is not None:
                    copy.attr["value"].tensor.tensor_content = array.tobytes()
            continue
        name = by_const[node.name]
        tensor = node.attr["value"].tensor
        stub = lean.node.add(name=name, op="Placeholder", device=nodes[name].device)
        stub.attr["dtype"].type = tensor.dtype
        stub.attr["shape"].shape.CopyFrom(tensor.tensor_shape)
        values[name] = tensor.tensor_content
    return lean, values


def put_weights_back(graph_def: Any, values: dict[str, bytes]) -> dict[str, bytes]:
    """Turn the Placeholders of set_weights_aside back into Consts.

    A weight held by token gets its token back; one held as bytes (a constant of the graph itself)
    stays empty, like tf2onnx's compress_graph_def, and its bytes are returned for
    process_tf_graph's const_node_values.
    """
    found = {}
    for node in graph_def.node:
        if node.name in values and node.op == "Placeholder":
            dtype, shape = node.attr["dtype"].type, node.attr["shape"].shape
            tensor = node.attr["value"].tensor
            tensor.dtype = dtype
            tensor.tensor_shape.CopyFrom(shape)
            del node.attr["shape"]
            node.op = "Const"
            if values[node.name].startswith(TOKEN):
                tensor.tensor_content = values[node.name]
            else:
                found[node.name] = values[node.name]
    return found


def _repeated(field: Any) -> bool:
    is_repeated = getattr(field, "is_repeated", None)  # protobuf >= 5.x; `label` before
    return bool(is_repeated) if is_repeated is not None else field.label == field.LABEL_REPEATED


@contextlib.contextmanager
def fresh_node_protos() -> Iterator[None]:
    """tf2onnx writes a node's attributes back into a fresh NodeProto, so the old copy is freed.

    A Const's NodeProto is left as it is: tf2onnx never emits it.
    """
    from tf2onnx.graph import Node

    original = Node.update_proto

    def update_proto(self: Any, external_tensor_storage: Any = None) -> None:
        if self.is_const() and not self.get_body_graphs():
            # a Const's NodeProto is never written out (make_graph makes an initializer from its
            # attributes): writing its tensor back into it would only add a copy of the weight
            return
        old = self._op
        fresh = type(old)()
        for field, value in old.ListFields():
            if field.name == "attribute":
                continue
            if _repeated(field):
                getattr(fresh, field.name).extend(value)
            elif field.message_type is not None:
                getattr(fresh, field.name).CopyFrom(value)
            else:
                setattr(fresh, field.name, value)
        self._op = fresh
        original(self, external_tensor_storage)

    Node.update_proto = update_proto
    try:
        yield
    finally:
        Node.update_proto = original
