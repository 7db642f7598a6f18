"""Read a module's input size and output size from its SavedModel without loading it.

Facts come, in order of trust, from the recipe (explicit override), the module's own serving
signature or `__call__` input signature, and the catalogue of well-known Hub modules. Hub image
modules take float RGB in [0, 1] unless the recipe says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.errors import SourceError
from edgekit.sources.base import ModuleInfo
from edgekit.sources.catalogue import CatalogueEntry
from edgekit.sources.scan_memo import remembered


def read_saved_model_proto(path: Path):
    from tensorflow.core.protobuf import saved_model_pb2

    pb = Path(path) / "saved_model.pb"
    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString(pb.read_bytes())
    except OSError as exc:
        raise SourceError(f"cannot read {pb}: {exc}") from exc
    except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
        raise SourceError(f"{pb} is not a valid SavedModel protobuf: {exc}") from exc
    return sm


def _dims(tensor_info) -> list[int]:
    return [d.size for d in tensor_info.tensor_shape.dim]


def _serving_signature(sm):
    for meta_graph in sm.meta_graphs:
        sig = meta_graph.signature_def.get("serving_default")
        if sig is not None and len(sig.inputs) == 1:
            return sig
    return None


def _from_signature_defs(sm) -> tuple[tuple[int, int] | None, int | None] | None:
    """(input H, W, output width) as far as the serving signature fixes them; None: no signature."""
    sig = _serving_signature(sm)
    if sig is None:
        return None
    (inp,) = sig.inputs.values()
    dims = _dims(inp)
    size = (dims[1], dims[2]) if len(dims) == 4 and dims[1] > 0 and dims[2] > 0 else None
    out_dim = None
    if len(sig.outputs) == 1:
        (out,) = sig.outputs.values()
        od = _dims(out)
        out_dim = od[-1] if od and od[-1] > 0 else None
    return size, out_dim


def _image_specs(value: Any):
    """Every 4-d TensorSpec shape in a StructuredValue (the encoding of a function's inputs)."""
    kind = value.WhichOneof("kind")
    if kind == "tensor_spec_value":
        yield [d.size for d in value.tensor_spec_value.shape.dim]
    elif kind in ("tuple_value", "list_value"):
        for v in getattr(value, kind).values:
            yield from _image_specs(v)
    elif kind == "dict_value":
        for v in value.dict_value.fields.values():
            yield from _image_specs(v)


def _from_call_function(sm) -> tuple[int, int] | None:
    """Input size from the root object's `__call__` (TF2 Hub modules often have no signature)."""
    for mg in sm.meta_graphs:
        og = mg.object_graph_def
        if not og.nodes:
            continue
        call = next((c.node_id for c in og.nodes[0].children if c.local_name == "__call__"), None)
        if call is None or og.nodes[call].WhichOneof("kind") != "function":
            continue
        fn = og.nodes[call].function
        candidates = [fn.function_spec.input_signature]
        candidates += [
            og.concrete_functions[c].canonicalized_input_signature
            for c in fn.concrete_functions
            if c in og.concrete_functions
        ]
        sizes = {
            (d[1], d[2])
            for value in candidates
            for d in _image_specs(value)
            if len(d) == 4 and d[1] > 0 and d[2] > 0
        }
        if len(sizes) == 1:
            return sizes.pop()
    return None


def module_info_from_saved_model(path: Path) -> ModuleInfo:
    """Input (H, W) and output size from the serving signature, when it states them."""
    size, out_dim = _from_signature_defs(read_saved_model_proto(path)) or (None, None)
    if size is None:
        raise SourceError(
            f"cannot tell the input size of the module at {path}: its serving signature does not fix height and width",
            hint="set source.input_size: [H, W] in the recipe",
        )
    return ModuleInfo(input_size=size, output_dim=out_dim, origin="signature")


Facts = tuple[tuple[int, int] | None, int | None]  # (input size, output length), where the graph states them


def _signature_facts(path: Path) -> Facts:
    sm = read_saved_model_proto(path)  # imports TensorFlow: remembered by the graph's bytes
    size, out_dim = _from_signature_defs(sm) or (None, None)
    return size or _from_call_function(sm), out_dim


def _facts_to_dict(facts: Facts) -> dict[str, Any]:
    return {"input_size": facts[0], "output_dim": facts[1]}


def _facts_from_dict(path: Path, data: dict[str, Any]) -> Facts:
    size, out_dim = data["input_size"], data["output_dim"]
    return (
        None if size is None else (int(size[0]), int(size[1])),
        None if out_dim is None else int(out_dim),
    )


def module_info(
    path: Path,
    *,
    catalogue: CatalogueEntry | None = None,
    input_size: tuple[int, int] | None = None,
    value_range: tuple[float, float] | None = None,
) -> ModuleInfo:
    """Everything training needs to feed the module, from the recipe, the file or the catalogue."""
    size, out_dim = remembered(path, b"signature facts", _signature_facts, _facts_to_dict, _facts_from_dict)
    origin: str
    if catalogue is not None:
        out_dim = out_dim or catalogue.output_dim
    if input_size is not None:
        size, origin = (input_size[0], input_size[1]), "recipe"
    elif size is not None:
        origin = "signature"
    elif catalogue is not None:
        size, origin = catalogue.info().input_size, "catalogue"
    else:
        raise SourceError(
            f"cannot tell the input size of the module at {path}: its signature accepts any size and it is not in the catalogue",
            hint="set source.input_size: [H, W] in the recipe (the size the module was trained at)",
        )
    vr = (
        tuple(value_range) if value_range is not None else (0.0, 1.0)
    )  # origin names where the size came from
    return ModuleInfo(
        input_size=(int(size[0]), int(size[1])),
        value_range=(float(vr[0]), float(vr[1])),
        output_dim=out_dim,
        origin=origin,
    )
