"""Estimates for the artifacts of a run: what the pipeline calls for its summary.

An artifact whose format has a graph reader (.tflite, .onnx: `FormatPlugin.analysis`) is analysed
directly. A TF.js artifact has none (`estimated_from_tflite`); it is estimated from the fp32 tflite artifact of the same run (the same reference graph, converted by
another converter) with the target's TF.js runtime, and the estimate says so.

`read_artifact_input` is the same idea for one path given to `edgekit targets estimate`: it reads the
quant mode from artifact.json, or from the model's own tensor types, instead of assuming fp32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.convert import FORMATS, folder_format, format_of_file, target_runtime
from edgekit.errors import EdgekitError, UsageError
from edgekit.targets.analysis import GraphAnalysis, analyze
from edgekit.targets.estimator import Estimate, estimate
from edgekit.targets.profile import TargetProfile


def _proxy(artifacts: list[Artifact]) -> Artifact | None:
    tflite = [a for a in artifacts if a.format == "tflite"]
    return next((a for a in tflite if a.quant == "fp32"), tflite[0] if tflite else None)


def estimate_artifacts(
    artifacts: list[Artifact], profile: TargetProfile, threads: int | None = None
) -> dict[str, Estimate | str]:
    """artifact name -> its Estimate, or the reason there is none (a string)."""
    out: dict[str, Estimate | str] = {}
    cache: dict[str, GraphAnalysis] = {}

    def analysis_of(a: Artifact) -> GraphAnalysis:
        if a.name not in cache:
            cache[a.name] = analyze(a.path)
        return cache[a.name]

    for a in artifacts:
        plugin = FORMATS.get(a.format) if a.format in FORMATS else None
        if plugin is not None and plugin.analysis is not None:
            out[a.name] = estimate(analysis_of(a), profile, quant=a.quant, threads=threads)
            continue
        proxy = _proxy(artifacts)
        runtime = target_runtime(a.format, profile.runtimes)
        if plugin is None or not plugin.estimated_from_tflite or proxy is None or runtime is None:
            out[a.name] = f"no estimate for {a.format} on {profile.name}: " + (
                f"{a.format} has no graph reader"
                if plugin is None or not plugin.estimated_from_tflite
                else "no tflite artifact of the same reference to read the graph from"
                if proxy is None
                else f"the target has no {a.format} runtime"
            )
            continue
        out[a.name] = estimate(analysis_of(proxy), profile, quant=a.quant, threads=threads, runtime=runtime)
    return out


# ---- one artifact given on the command line (`edgekit targets estimate PATH`) ----------------------

_TFJS_WEIGHT_DTYPES = {"uint8": "uint8", "uint16": "uint16", "float16": "fp16"}
_ONNX_DYNAMIC_OPS = ("DynamicQuantizeLinear", "ConvInteger", "MatMulInteger")


@dataclass
class ArtifactInput:
    """What `targets estimate` needs from PATH: the graph to analyse, and the artifact's format and quant mode."""

    analysis: GraphAnalysis
    format: str  # tflite | onnx | tfjs
    quant: str
    quant_from: str  # --quant | artifact.json | model.json | tensor types
    graph_note: str | None = None  # set when the graph analysed is not PATH's own (TF.js)
    recorded_quant: str | None = None  # what artifact.json / the model says, when --quant overrode it


def quant_from_graph(analysis: GraphAnalysis) -> str:
    """The quant mode a .tflite/.onnx graph was converted with, read from its tensor types.

    MAC ops computing in int16 → int16x8; ONNX's run-time quantization ops, or float MAC ops with
    int8 weights → dynamic-int8; MAC ops in (u)int8 → int8; float16 constants anywhere → fp16;
    otherwise fp32.
    """
    heavy = [op for op in analysis.ops if op.macs]
    compute = {op.dtype for op in heavy}
    if "int16" in compute:
        return "int16x8"
    if any(op.type in _ONNX_DYNAMIC_OPS for op in analysis.ops):  # uint8 activations, quantized at run time
        return "dynamic-int8"
    if compute and compute <= {"int8", "uint8"}:
        return "int8"
    if any(op.weight_dtype in ("int8", "uint8") for op in heavy):
        return "dynamic-int8"
    if any(w.dtype == "float16" for op in analysis.ops for w in op.weights) or "float16" in compute:
        return "fp16"
    return "fp32"


def _tfjs_quant(model_json: Path) -> str:
    """fp32, or the weight quantization model.json's weightsManifest records (uint8, uint16, fp16)."""
    try:
        manifest = json.loads(model_json.read_text()).get("weightsManifest") or []
    except (OSError, ValueError, AttributeError) as exc:
        raise UsageError(f"{model_json} is not a readable TF.js model.json: {exc}") from None
    try:
        found = {
            (w.get("quantization") or {}).get("dtype") for group in manifest for w in group.get("weights", [])
        }
    except (AttributeError, TypeError):  # a manifest, group or weight entry of the wrong JSON type
        raise UsageError(
            f'{model_json}: weightsManifest is not a list of groups with "weights" objects',
            hint="convert the model again with `edgekit convert --format tfjs`",
        ) from None
    modes = [_TFJS_WEIGHT_DTYPES[d] for d in found if isinstance(d, str) and d in _TFJS_WEIGHT_DTYPES]
    return modes[0] if modes else "fp32"


def _artifact_json(folder: Path) -> Artifact | None:
    if not (folder / ARTIFACT_JSON).is_file():
        return None
    try:
        return Artifact.load(folder)
    except EdgekitError as exc:
        raise UsageError(
            exc.message, hint="rewrite it with `edgekit convert`, or pass the model file with --quant"
        ) from None


def _tfjs_graph(folder: Path, graph: Path | None) -> tuple[Path, str]:
    """The .tflite graph a TF.js artifact is estimated from: --graph, else one of the same run."""
    if graph is not None:
        return graph, f"the TF.js graph is estimated from {graph} (--graph)"
    run = folder.parent
    # fp32 first: the TF.js runtimes compute in float whatever the weight storage.
    candidates = [
        run / "tflite-fp32",
        run.parent / "analysis" / "tflite-fp32",
        *sorted(p for p in run.glob("tflite-*") if p.name != "tflite-fp32"),
    ]
    for c in candidates:
        found = sorted(c.glob("*.tflite")) if c.is_dir() else []
        if len(found) == 1:
            return found[
                0
            ], f"the TF.js graph is estimated from {found[0]}, the tflite graph of the same reference"
    raise UsageError(
        f"{folder}: a TF.js artifact is estimated from the .tflite graph of the same reference, and none was found "
        f"(looked in {', '.join(str(c) for c in candidates)})",
        hint="pass --graph path/to/model.tflite (e.g. `edgekit convert --format tflite --quant fp32` of the same recipe)",
    )


def _tflite_estimated_format(path: Path, folder: Path, art: Artifact | None) -> str | None:
    """PATH's format when it has no graph reader and is estimated from a TFLite graph (TF.js); else None."""
    fmt: str | None
    if art is not None:
        fmt = art.format
    elif path.is_file():
        fmt = format_of_file(path)
    else:
        fmt = folder_format(folder, alone=True)
    return fmt if fmt is not None and fmt in FORMATS and FORMATS.get(fmt).estimated_from_tflite else None


def read_artifact_input(path: Path, quant: str | None = None, graph: Path | None = None) -> ArtifactInput:
    """PATH: a .tflite/.onnx file, a TF.js model.json, or an artifact folder (with artifact.json or not).

    The quant mode comes from --quant (QUANT) when given, else artifact.json beside the model,
    else the model itself (tensor types; model.json's weight quantization for TF.js).
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(
            f"{path} does not exist", hint="pass a .tflite, .onnx or model.json file, or an artifact folder"
        )
    folder = path if path.is_dir() else path.parent
    art = _artifact_json(folder)
    if (proxied := _tflite_estimated_format(path, folder, art)) is not None:
        graph_path, note = _tfjs_graph(folder, graph)
        analysis, fmt = analyze(graph_path), proxied
        recorded, source = (
            (art.quant, ARTIFACT_JSON) if art else (_tfjs_quant(folder / "model.json"), "model.json")
        )
    else:
        analysis, note = analyze(path), None
        fmt = analysis.format
        if art is not None and art.format == fmt and (path.is_dir() or art.path.name == path.name):
            recorded, source = art.quant, ARTIFACT_JSON
        else:
            recorded, source = quant_from_graph(analysis), "tensor types"
    if quant is not None:
        return ArtifactInput(analysis, fmt, quant, "--quant", note, recorded if recorded != quant else None)
    return ArtifactInput(analysis, fmt, recorded, source, note)
