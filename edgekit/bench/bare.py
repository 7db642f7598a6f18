"""An Artifact for a model file that has no artifact.json beside it (a user's own .tflite/.onnx/model.json).

Each format's plugin names the function here (or its own) that reads a bare file's tensor specs.

Runs in the worker: describing a file means parsing it, and a corrupt file may crash its parser.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.artifact import Artifact, TensorSpec
from edgekit.errors import RuntimeLoadError
from edgekit.fsutil import sha256_tree, tree_size

UNKNOWN_QUANT = "unknown"  # a bare file does not say how it was quantized; never guess
_TF_DTYPES = {
    "DT_FLOAT": "float32",
    "DT_HALF": "float16",
    "DT_INT32": "int32",
    "DT_INT8": "int8",
    "DT_UINT8": "uint8",
}
_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
}


def artifact_from_file(path: Path, fmt: str) -> Artifact:
    from edgekit.convert import FORMATS, resolve_hook

    plugin = FORMATS.get(fmt) if fmt in FORMATS else None
    if plugin is None or plugin.describe is None:
        raise RuntimeLoadError(f"{path}: no way to describe a bare {fmt!r} file")
    inputs, outputs = resolve_hook(plugin.describe)(path)
    files = path.parent if plugin.folder else path  # e.g. a TF.js model is model.json plus weight shards
    return Artifact(
        format=fmt,
        quant=UNKNOWN_QUANT,
        path=path,
        sha256=sha256_tree(files),
        size_bytes=tree_size(files),
        inputs=inputs,
        outputs=outputs,
        metadata={"described_from": "bare file, no artifact.json"},
    )


def tflite_specs(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    from edgekit.convert.tflite import describe_tflite

    try:
        inputs, outputs, _ = describe_tflite(path)
    except (ValueError, RuntimeError) as exc:
        raise RuntimeLoadError(f"LiteRT cannot read {path}: {str(exc).splitlines()[0]}") from None
    return inputs, outputs


def onnx_specs(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own InvalidProtobuf/Fail classes
        raise RuntimeLoadError(f"onnxruntime cannot read {path}: {str(exc).splitlines()[0]}") from None

    def spec(arg) -> TensorSpec:
        return TensorSpec(
            arg.name,
            [d if isinstance(d, int) else 1 for d in arg.shape],
            _ORT_DTYPES.get(arg.type, "float32"),
        )

    return [spec(a) for a in session.get_inputs()], [spec(a) for a in session.get_outputs()]


def tfjs_specs(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    try:
        signature = json.loads(path.read_text())["signature"]
        return _tfjs_side(signature["inputs"]), _tfjs_side(signature["outputs"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeLoadError(f"{path} is not a TF.js graph model with a signature: {exc}") from None


def _tfjs_side(side: dict) -> list[TensorSpec]:
    specs = []
    for key, t in side.items():
        dims = [int(d.get("size", 1)) for d in t.get("tensorShape", {}).get("dim", [])]
        # TF.js writes a dynamic batch as -1; edgekit artifacts run one sample at a time
        specs.append(
            TensorSpec(
                t.get("name", key),
                [1 if d < 0 else d for d in dims],
                _TF_DTYPES.get(t.get("dtype"), "float32"),
            )
        )
    return specs
