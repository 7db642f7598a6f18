"""Read measured results (bench JSON files) for `edgekit targets calibrate`.

Accepted: a JSON list of results, an object with a "results" list, or one result object.
Each result needs:
- artifact: a path to the .tflite/.onnx file (or to its artifact folder), or an object with such
  a "path" (edgekit bench results), or a graph analysis saved with `edgekit targets analyze --json`
  (an object with "ops"). Relative paths are read relative to the JSON file's folder.
- p50_ms (or latency_ms): the measured latency in milliseconds.
- threads: an integer, at top level or in "runtime"/"protocol" objects (edgekit bench results).
Optional: quant (else artifact.quant, else from the graph's dtypes), runtime (a name, or an
object with "runtime"; else the format's default: litert for tflite). Results with status
"failed" or validity "INVALID" (too few runs) are skipped; "UNSTABLE" ones (noisy) are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError
from edgekit.targets.analysis import GraphAnalysis, analyze
from edgekit.targets.estimator import COMPUTE_DTYPE
from edgekit.targets.latency_model import Features, graph_features


@dataclass
class Measurement:
    artifact: str  # identifies the artifact: its path, or the analysis' path
    features: Features
    dtype: str  # compute dtype: fp32 | int8
    quant: str
    threads: int
    latency_ms: float
    runtime: str
    where: str  # file and index, for messages


def _analysis(ref: Any, folder: Path, where: str) -> GraphAnalysis:
    if isinstance(ref, dict) and "ops" in ref:
        try:
            return GraphAnalysis.from_dict(ref)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where}: artifact: not a readable graph analysis: {exc}") from None
    path = ref.get("path") if isinstance(ref, dict) else ref
    if not isinstance(path, str) or not path:
        raise UsageError(f"{where}: artifact: expected a path or an analysis object, got {ref!r}")
    p = Path(path)
    try:
        p = p if p.is_absolute() or not (folder / p).exists() else folder / p
    except OSError as exc:  # a name too long, a NUL byte: not a path this system can have
        raise UsageError(
            f"{where}: artifact: {path[:80]!r} is not a usable path: {exc.strerror or exc}"
        ) from None
    return analyze(p)


def _threads(r: dict[str, Any], where: str) -> int:
    for value in (
        r.get("threads"),
        (r.get("runtime") or {}).get("threads") if isinstance(r.get("runtime"), dict) else None,
        (r.get("protocol") or {}).get("threads"),
    ):
        if isinstance(value, int) and value >= 1:
            return value
    raise UsageError(
        f"{where}: threads: missing or not a positive integer", hint='add "threads": 4 to each result'
    )


def _quant(r: dict[str, Any], analysis: GraphAnalysis) -> str:
    art = r.get("artifact")
    q = r.get("quant") or (art.get("quant") if isinstance(art, dict) else None)
    if q and q != "unknown":  # edgekit bench says "unknown" for a bare model file
        return str(q)
    heavy = [op.dtype for op in analysis.ops if op.macs]
    return "int8" if heavy and all(d in ("int8", "uint8") for d in heavy) else "fp32"


def _one(r: Any, folder: Path, where: str) -> Measurement | None:
    if not isinstance(r, dict):
        raise UsageError(f"{where}: a result must be an object, got {type(r).__name__}")
    # no latency, too few runs to trust, or measured on a throttled or overheated device
    if r.get("status") == "failed" or r.get("validity") in ("INVALID", "UNTRUSTED"):
        return None
    latency = r.get("p50_ms", r.get("latency_ms"))
    if not isinstance(latency, (int, float)) or latency <= 0:
        raise UsageError(f"{where}: p50_ms: missing or not a positive number, got {latency!r}")
    if "artifact" not in r:
        raise UsageError(
            f"{where}: artifact: missing", hint="give the .tflite path the latency was measured on"
        )
    analysis = _analysis(r["artifact"], folder, where)
    quant = _quant(r, analysis)
    dtype = COMPUTE_DTYPE.get(quant)
    if dtype is None:
        raise UsageError(
            f"{where}: quant {quant!r} cannot be calibrated (the latency model has fp32 and int8 kernels)"
        )
    rt = r.get("runtime")
    runtime = (rt.get("runtime") if isinstance(rt, dict) else rt) or _default_runtime(analysis.format)
    return Measurement(
        str(analysis.path),
        graph_features(analysis),
        dtype,
        quant,
        _threads(r, where),
        float(latency),
        str(runtime),
        where,
    )


def parse_bench_json(path: Path) -> list[Measurement]:
    """Every usable measurement in one bench JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"bench results file not found: {path}") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    results = data.get("results", [data]) if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise UsageError(f'{path}: expected a list of results or an object with "results"')
    out = [_one(r, path.parent, f"{path}: results[{i}]") for i, r in enumerate(results)]
    return [m for m in out if m is not None]


def _default_runtime(fmt: str) -> str:
    """The format's default runtime (its plugin's default_runtime); litert for a format edgekit does not know."""
    from edgekit.convert import FORMATS

    return (FORMATS.get(fmt).default_runtime if fmt in FORMATS else "") or "litert"
