"""Read a module's input size and output size from its SavedModel without loading it."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import SourceError
from edgekit.sources.base import ModuleInfo


def read_saved_model_proto(path: Path):
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
        raise SourceError(f"{path / 'saved_model.pb'} is not a valid SavedModel protobuf: {exc}") from exc
    return sm


def _dims(tensor_info) -> list[int]:
    return [d.size for d in tensor_info.tensor_shape.dim]


def module_info_from_saved_model(path: Path) -> ModuleInfo:
    """Input (H, W) and output size from the serving signature, when it states them."""
    sm = read_saved_model_proto(path)
    for meta_graph in sm.meta_graphs:
        sig = meta_graph.signature_def.get("serving_default")
        if sig is None or len(sig.inputs) != 1:
            continue
        (inp,) = sig.inputs.values()
        dims = _dims(inp)
        if len(dims) == 4 and dims[1] > 0 and dims[2] > 0:
            out_dim = None
            if len(sig.outputs) == 1:
                (out,) = sig.outputs.values()
                od = _dims(out)
                out_dim = od[-1] if od and od[-1] > 0 else None
            return ModuleInfo(input_size=(dims[1], dims[2]), output_dim=out_dim, origin="signature")
    raise SourceError(
        f"cannot tell the input size of the module at {path}: its serving signature does not fix height and width",
        hint="set source.input_size: [H, W] in the recipe",
    )
