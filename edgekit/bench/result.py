"""The one result type every runtime produces: a plain dict with stable field names.

The fields are specified by result.schema.json (SCHEMA_VERSION); docs/benchmarks.md explains them.
A failed measurement is a result too (status "failed", error, stderr tail), so a matrix of
artifacts always yields one row per artifact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from edgekit.bench.samples import SAMPLES_FIELD, encode_samples

SCHEMA_VERSION = 1
STAT_FIELDS = (
    "runs",
    "total_s",
    "mean_ms",
    "std_ms",
    "min_ms",
    "max_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "cv",
    "throughput_per_s",
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def artifact_summary(artifact) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "format": artifact.format,
        "quant": artifact.quant,
        "path": str(artifact.path),
        "sha256": artifact.sha256,
        "size_bytes": artifact.size_bytes,
        "input": {"shape": artifact.inputs[0].shape, "dtype": artifact.inputs[0].dtype},
    }


def ok_result(
    artifact, measurement, protocol, inputs, host: dict, peak_rss_kb: int | None, started: str
) -> dict[str, Any]:
    m = measurement.to_dict()
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "error": None,
        "stderr_tail": None,
        "label": artifact.name,
        "artifact": artifact_summary(artifact),
        "model_size_bytes": artifact.size_bytes,
        "runtime": m.pop("runtime"),
        "protocol": protocol.to_dict(),
        "input": inputs.describe(),
        "host": host,
        **m,
        "peak_rss_kb": peak_rss_kb,
        SAMPLES_FIELD: encode_samples(measurement.samples_ms),
        "started_at": started,
        "finished_at": now(),
    }


def failed_result(
    label: str,
    target: dict,
    protocol: dict,
    runtime: str | None,
    error: str,
    stderr_tail: str | None = None,
    host: dict | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "failed",
        "error": error,
        "stderr_tail": stderr_tail,
        "label": label,
        "artifact": {"path": target.get("path"), "format": target.get("format")},
        "runtime": {"runtime": runtime, "threads": protocol.get("threads")},
        "protocol": protocol,
        "host": host,
        "validity": "FAILED",
        "validity_reasons": [error.splitlines()[0] if error else "failed"],
        **{k: None for k in STAT_FIELDS},
        "finished_at": now(),
    }


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("edgekit.bench").joinpath("result.schema.json").read_text())


def schema_errors(result: dict[str, Any]) -> list[str]:
    """Where RESULT breaks the schema (the subset edgekit's schema uses: type, required, enum, properties)."""
    return _check(result, schema(), "result")


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def _check(value: Any, rule: dict, where: str) -> list[str]:
    types = rule.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        is_bool = isinstance(value, bool)
        if not any(isinstance(value, _TYPES[t]) and (t == "boolean" or not is_bool) for t in allowed):
            return [f"{where}: expected {' or '.join(allowed)}, got {type(value).__name__}"]
    if "enum" in rule and value not in rule["enum"]:
        return [f"{where}: {value!r} is not one of {rule['enum']}"]
    errors: list[str] = []
    if isinstance(value, dict):
        errors += [f"{where}: missing field {k!r}" for k in rule.get("required", []) if k not in value]
        for key, sub in rule.get("properties", {}).items():
            if key in value:
                errors += _check(value[key], sub, f"{where}.{key}")
    return errors
