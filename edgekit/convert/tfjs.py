"""TF.js format: reference SavedModel → TF.js graph model (model.json + weight shards).

TF.js weight quantization only changes how weights are stored (fp16, or affine uint8/uint16 with
a per-tensor min and scale); the runtime dequantizes them at load time and computes in float32,
so inputs and outputs stay float32 in every mode.

Metadata travels inside model.json as `userDefinedMetadata.edgekit` (labels, preprocessing, quant
mode, plus whatever the request carries), which TF.js exposes as `GraphModel.metadata`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edgekit.artifact import Artifact, TensorSpec
from edgekit.convert import tfjs_lean
from edgekit.convert.base import ConversionRequest, FormatPlugin, declared_mode, register_format
from edgekit.convert.saved_model_memo import loads_shared
from edgekit.errors import ConversionError, NotInstalledError
from edgekit.fsutil import atomic_dir, sha256_tree, tree_size

MODEL_JSON = "model.json"
METADATA_KEY = "edgekit"  # the key under userDefinedMetadata
DEFAULT_SHARD_SIZE_BYTES = 4 * 1024 * 1024
QUANT_MODES = ("fp32", "fp16", "uint8", "uint16")
# edgekit quant mode → tensorflowjs quantization dtype; True means "every weight" (fallthrough).
_QUANTIZATION_DTYPE = {"fp32": None, "fp16": "float16", "uint8": "uint8", "uint16": "uint16"}
# TF DataType enum names as model.json writes them → numpy dtype names.
_DTYPES = {"DT_FLOAT": "float32", "DT_INT32": "int32", "DT_BOOL": "bool", "DT_HALF": "float16"}


def convert_tfjs(request: ConversionRequest) -> Artifact:
    quant = declared_mode("tfjs", request.quant, QUANT_MODES)
    shard_size = _shard_size(request.options)
    saved_model = Path(request.reference) / "saved_model"
    if not (saved_model / "saved_model.pb").is_file():
        raise ConversionError(f"no reference SavedModel at {saved_model} (saved_model.pb is missing)")
    metadata = _embedded_metadata(request, quant)
    dtype = _QUANTIZATION_DTYPE[quant]
    warnings: list[str] = []
    with atomic_dir(request.out_dir) as tmp:
        _run_converter(saved_model, tmp, dtype, shard_size, metadata, warnings)
        model_json = _read_model_json(tmp / MODEL_JSON)
    out_dir = Path(request.out_dir)
    return Artifact(
        format="tfjs",
        quant=quant,
        path=out_dir / MODEL_JSON,
        sha256=sha256_tree(out_dir),
        size_bytes=tree_size(out_dir),
        inputs=_tensor_specs(model_json, "inputs"),
        outputs=_tensor_specs(model_json, "outputs"),
        metadata={**_artifact_metadata(model_json, dtype, shard_size), "warnings": warnings},
    )


def _shard_size(options: dict[str, Any]) -> int:
    value = options.get("shard_size_bytes", DEFAULT_SHARD_SIZE_BYTES)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConversionError(
            f"tfjs option shard_size_bytes must be a positive integer, got {value!r}",
            hint=f"the default is {DEFAULT_SHARD_SIZE_BYTES} (4 MiB); browsers cache shards of a few MiB well",
        )
    return value


def _embedded_metadata(request: ConversionRequest, quant: str) -> dict[str, Any]:
    """What goes into userDefinedMetadata: the reference's labels and preprocessing, then the request's."""
    reference = Path(request.reference)
    meta: dict[str, Any] = {"format": "tfjs", "quant": quant}
    labels = reference / "labels.txt"
    if labels.is_file():
        meta["labels"] = labels.read_text().splitlines()
    preprocessing = reference / "preprocessing.json"
    if preprocessing.is_file():
        meta["preprocessing"] = json.loads(preprocessing.read_text())
    meta.update(request.metadata)
    # Round-trip through JSON so Paths or numpy scalars in the request cannot break the writer.
    return {METADATA_KEY: json.loads(json.dumps(meta, default=str))}


def _run_converter(
    saved_model: Path, out: Path, dtype: str | None, shard_size: int, metadata: dict, warnings: list[str]
) -> None:
    """tensorflowjs's convert_tf_saved_model, the memory-lean way (edgekit/convert/tfjs_lean.py).

    Where the lean path fails, the conversion is done again by tensorflowjs's own path, with a
    warning, so the outcome is tensorflowjs's either way (the same files when both succeed).
    """
    from edgekit.convert._tfjs_imports import import_tfjs_converter

    try:
        converter = import_tfjs_converter()
    except NotInstalledError:
        raise
    except Exception as exc:  # an ImportError or a TF error raised while tensorflowjs imports
        raise ConversionError(f"cannot import the tensorflowjs converter: {exc}") from exc
    options = {
        "signature_def": "serving_default",
        "saved_model_tags": "serve",
        "quantization_dtype_map": {dtype: True} if dtype else None,
        "weight_shard_size_bytes": shard_size,
        "metadata": metadata,
    }
    try:
        # the reference is loaded once per process, shared with TFLite and the other TF.js modes
        with loads_shared(converter, "_load_model"):
            failure = None
            try:
                tfjs_lean.convert(converter, str(saved_model), str(out), **options)
            except Exception as failed:  # noqa: BLE001 - tensorflowjs's own path decides
                if str(failed).startswith(UNSUPPORTED):  # its op check sees the same graph either way
                    raise
                failure = f"{type(failed).__name__}: {failed}"
            if failure is not None:  # (outside the except block: the failure's frames are gone)
                warnings.append(
                    f"edgekit: the memory-lean TF.js conversion failed ({failure}); "
                    "converted again the way tensorflowjs does"
                )
                _clear(out)
                converter.convert_tf_saved_model(str(saved_model), str(out), **options)
    except Exception as exc:  # tensorflowjs raises bare Exception/ValueError for unsupported graphs
        raise ConversionError(
            f"tensorflowjs could not convert {saved_model}: {type(exc).__name__}: {exc}"
        ) from exc
    # On some failures the converter prints a message and returns without writing anything.
    if not (out / MODEL_JSON).is_file():
        raise ConversionError(f"tensorflowjs wrote no {MODEL_JSON} for {saved_model}")


UNSUPPORTED = "Unsupported Ops in the model"  # how tensorflowjs's op check starts its refusal


def _clear(folder: Path) -> None:
    """Remove what a failed attempt left in FOLDER, keeping the folder."""
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _read_model_json(path: Path) -> dict[str, Any]:
    model_json = json.loads(path.read_text())
    missing = [
        w
        for group in model_json.get("weightsManifest", [])
        for w in group["paths"]
        if not (path.parent / w).is_file()
    ]
    if missing:
        raise ConversionError(f"tensorflowjs wrote {path.name} but not its weight files {missing}")
    if "signature" not in model_json:
        raise ConversionError(f"{path.name} has no signature; edgekit needs named inputs and outputs")
    return model_json


def _tensor_specs(model_json: dict[str, Any], side: str) -> list[TensorSpec]:
    """Specs named as GraphModel.execute addresses them: the node name, without the ':0' port."""
    specs = []
    for key, tensor in model_json["signature"].get(side, {}).items():
        name = tensor.get("name", key).split(":")[0]
        dims = tensor.get("tensorShape", {}).get("dim", [])
        shape = [int(d.get("size", -1)) for d in dims]
        specs.append(
            TensorSpec(name=name, shape=shape, dtype=_DTYPES.get(tensor.get("dtype", ""), "float32"))
        )
    if not specs:
        raise ConversionError(f"the converted graph model has no {side} in its signature")
    return specs


def _artifact_metadata(model_json: dict[str, Any], dtype: str | None, shard_size: int) -> dict[str, Any]:
    shards = [w for group in model_json.get("weightsManifest", []) for w in group["paths"]]
    return {
        "converter": model_json.get("convertedBy", "TensorFlow.js Converter"),
        "producer": model_json.get("generatedBy", ""),
        "model_format": model_json.get("format", "graph-model"),
        "quantization_dtype": dtype or "float32",
        "shard_size_bytes": shard_size,
        "weight_files": shards,
        "embedded_metadata_key": f"userDefinedMetadata.{METADATA_KEY}",
    }


register_format(
    FormatPlugin(
        name="tfjs",
        quant_modes=QUANT_MODES,
        convert=convert_tfjs,
        description="TF.js graph model (model.json + weight shards); weights fp32, fp16, uint8 or uint16",
        default_runtime="tfjs-node",
        requires=("tf", "tfjs"),
        label="TF.js",
        model_file=MODEL_JSON,
        suffixes=(".json",),
        folder=True,
        target_runtimes=("tfjs-browser", "tfjs-node"),
        estimated_from_tflite=True,
        describe="edgekit.bench.bare:tfjs_specs",
    ),
    aliases=("tensorflowjs", "tf.js"),
)
