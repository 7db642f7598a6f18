"""ONNX format plugin: tf2onnx from the reference SavedModel, then quantization with ONNX Runtime.

Every mode starts from one fp32 conversion (kept in a temporary folder, never in out_dir):
    fp32          the tf2onnx model as is
    fp16          float16 weights behind Cast nodes; inputs, outputs and compute stay float32
    dynamic-int8  onnxruntime.quantization.quantize_dynamic (int8 weights, activations at run time)
    int8          onnxruntime.quantization.quantize_static, QDQ, per-channel, on request.calibration
Both int8 modes of a large model run in a process of their own (onnx_quant_apart.py), same result.
The result gets the request's metadata in `metadata_props`, must pass `onnx.checker` (full check)
and open and run in an ONNX Runtime CPU session before it is written to out_dir/model.onnx.
A result whose tensors exceed the protobuf limit (onnx_external.EXTERNAL_DATA_THRESHOLD) is written
as model.onnx plus model.onnx.data; the artifact's sha256 and size then cover both files.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.artifact import Artifact, TensorSpec
from edgekit.convert import onnx_external
from edgekit.convert.base import ConversionRequest, FormatPlugin, declared_mode, register_format
from edgekit.convert.onnx_export import SIGNATURE
from edgekit.convert.onnx_fp32_memo import exported_fp32
from edgekit.convert.onnx_quant import _no_calibration, _specs
from edgekit.convert.onnx_quant_apart import failed_after_export, quantize
from edgekit.errors import ConversionError, UsageError
from edgekit.fsutil import atomic_write_bytes, sha256_file

MODEL_FILE = "model.onnx"
OPSET_MIN, OPSET_MAX, DEFAULT_OPSET = 14, 18, 17  # what tf2onnx 1.17 can emit
OPTIONS = ("opset",)
QUANT_MODES_ONNX = ("fp32", "fp16", "dynamic-int8", "int8")


# ---------------------------------------------------------------- request validation


def _opset(options: dict[str, Any]) -> int:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], OPTIONS, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"unknown onnx option(s): {', '.join(map(repr, unknown))}.{guess}",
            hint=f"onnx options: {', '.join(OPTIONS)}",
        )
    value = options.get("opset", DEFAULT_OPSET)
    # bool is an int in Python; `opset: true` in a recipe is a mistake, not opset 1.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not OPSET_MIN <= value <= OPSET_MAX
    ):
        raise UsageError(
            f"onnx option 'opset' must be an integer from {OPSET_MIN} to {OPSET_MAX}; got {value!r}",
            hint=f"tf2onnx 1.17 emits opsets {OPSET_MIN}-{OPSET_MAX}; remove the option to use {DEFAULT_OPSET}",
        )
    return int(value)


def _calibration(request: ConversionRequest, mode: str) -> np.ndarray | None:
    """The calibration batch for int8, checked; None for modes that do not use it."""
    if mode != "int8":
        return None
    if request.calibration is None:
        raise _no_calibration()
    data = np.asarray(request.calibration)
    if data.dtype.kind != "f" or data.ndim != 4 or len(data) == 0 or not np.isfinite(data).all():
        raise ConversionError(
            f"onnx int8 calibration data must be finite float [N, H, W, C] with N >= 1 after preprocessing; "
            f"got dtype {data.dtype}, shape {data.shape}",
            hint="pass images through edgekit's preprocessing (float32 in the model's value range) before calibrating",
        )
    return data.astype(np.float32, copy=False)


# ---------------------------------------------------------------- metadata, checks, artifact


def _default_metadata(reference: Path, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> dict[str, Any]:
    """What a deployed model needs to be used correctly, read from the reference folder."""
    meta: dict[str, Any] = {
        "input": [{"name": s.name, "shape": s.shape, "dtype": s.dtype} for s in inputs],
        "output": [{"name": s.name, "shape": s.shape, "dtype": s.dtype} for s in outputs],
    }
    labels, preprocessing = reference / "labels.txt", reference / "preprocessing.json"
    if labels.is_file():
        meta["labels"] = labels.read_text().splitlines()
    if preprocessing.is_file():
        meta["preprocessing"] = json.loads(preprocessing.read_text())
    return meta


def _embed_metadata(model: Any, metadata: dict[str, Any]) -> list[str]:
    """Write each entry as a JSON string into metadata_props (replacing same-named keys)."""
    try:
        encoded = {str(k): json.dumps(v, sort_keys=True) for k, v in metadata.items()}
    except TypeError as exc:
        raise ConversionError(
            f"onnx metadata must be JSON-serializable: {exc}",
            hint="pass plain str/int/float/list/dict values",
        ) from exc
    keep = [p for p in model.metadata_props if p.key not in encoded]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in encoded.items():
        model.metadata_props.add(key=key, value=value)
    return sorted(encoded)


def _verify(path: Path) -> None:
    """The checker (full, with shape inference) and one ONNX Runtime run on zeros must both pass."""
    import onnx
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        raise ConversionError(f"onnx.checker rejects the converted model: {exc}") from exc
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.log_severity_level = 1, 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {
            i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
            for i in session.get_inputs()
        }
        session.run(None, feeds)
    except Exception as exc:
        raise ConversionError(f"ONNX Runtime cannot run the converted model: {exc}") from exc


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import tensorflow
    import tf2onnx

    return {
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "tensorflow": tensorflow.__version__,
    }


def _finish(
    request: ConversionRequest, mode: str, src: Path, tmp: Path
) -> tuple[Path, Any, list[str], list[str]]:
    """Embed metadata, verify, and only then write out_dir/model.onnx (+ model.onnx.data) atomically.

    Returns the model file, the model (its graph; external tensors not loaded), the metadata keys
    and the external data file names ([] for a single file).
    """
    import onnx

    # The graph only: a large model's tensors are copied file to file, never held in memory.
    model = onnx.load(str(src), load_external_data=False)
    init_names = {i.name for i in model.graph.initializer}
    inputs, outputs = _specs(model.graph.input, init_names), _specs(model.graph.output, set())
    # the request may refine what is read from the reference; the quant mode is a fact of this file
    metadata = {
        **_default_metadata(Path(request.reference), inputs, outputs),
        **request.metadata,
        "quant": mode,
    }
    keys = _embed_metadata(model, metadata)
    stage = tmp / "final"
    stage.mkdir()
    staged = stage / MODEL_FILE
    data = onnx_external.save(model, staged, src.parent, f"the onnx {mode} model")
    onnx_external.drop_payloads(model)  # from here on only its graph is read: free the weights first
    _verify(staged)
    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The data first: the model file appears last, when everything it names is in place.
    for name in data:
        onnx_external.move_into(stage / name, out_dir / name)
    if not data:  # a folder converted into before may hold a large model's data: not this model's
        (out_dir / onnx_external.data_file_name(MODEL_FILE)).unlink(missing_ok=True)
    final = atomic_write_bytes(out_dir / MODEL_FILE, staged.read_bytes())
    return final, model, keys, data


def convert_onnx(request: ConversionRequest) -> Artifact:
    mode = declared_mode("onnx", request.quant, QUANT_MODES_ONNX)
    opset = _opset(request.options)
    calibration = _calibration(request, mode)
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="edgekit-onnx-") as tmp_name:
        tmp = Path(tmp_name)
        fp32 = exported_fp32(Path(request.reference) / "saved_model", opset, warnings)
        try:
            quantized, settings = quantize(mode, fp32, tmp, calibration, warnings)  # apart for large models
            path, model, keys, data = _finish(request, mode, quantized, tmp)
        except ConversionError:
            raise
        except Exception as exc:  # onnxruntime.quantization and onnx raise plain exceptions; keep the reason
            raise failed_after_export(mode, type(exc).__name__, str(exc)) from exc
    return _artifact(path, model, mode, opset, settings, calibration, keys, warnings, data)


def _artifact(
    path: Path,
    model: Any,
    mode: str,
    opset: int,
    settings: dict[str, Any],
    calibration: np.ndarray | None,
    keys: list[str],
    warnings: list[str],
    data: list[str],
) -> Artifact:
    init_names = {i.name for i in model.graph.initializer}
    final_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), opset)
    # With external data the hash and size cover the model file and its data file(s) together.
    files = [path.name, *data]
    extra = {onnx_external.METADATA_KEY: data} if data else {}
    return Artifact(
        format="onnx",
        quant=mode,
        path=path,
        sha256=onnx_external.files_sha256(path.parent, files) if data else sha256_file(path),
        size_bytes=sum((path.parent / f).stat().st_size for f in files),
        inputs=_specs(model.graph.input, init_names),
        outputs=_specs(model.graph.output, set()),
        metadata={
            "opset": final_opset,
            "requested_opset": opset,
            "signature": SIGNATURE,
            "converter": _versions(),
            "quantization": settings,
            "calibration_samples": 0 if calibration is None else len(calibration),
            "metadata_props": keys,
            "warnings": warnings,
            **extra,
        },
    )


register_format(
    FormatPlugin(
        name="onnx",
        quant_modes=QUANT_MODES_ONNX,
        convert=convert_onnx,
        description="ONNX via tf2onnx (opset 14-18, default 17); int8 via onnxruntime.quantization (QDQ)",
        default_runtime="onnxruntime",
        label="ONNX",
        model_file=MODEL_FILE,
        suffixes=(".onnx",),
        target_runtimes=("onnxruntime",),
        analysis="edgekit.targets.analysis.onnx:analyze_onnx",
        describe="edgekit.bench.bare:onnx_specs",
        on_devices=True,
    )
)
