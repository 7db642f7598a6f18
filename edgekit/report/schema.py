"""Load a report.json and validate it against report.schema.json (a small JSON Schema subset).

Only the keywords the schema uses are implemented: type, required, properties, items, enum, $ref
to #/$defs. That keeps the check dependency-free; a full validator (jsonschema) accepts the same file.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from edgekit.errors import UsageError

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "null": type(None),
    "boolean": bool,
}


@lru_cache(maxsize=1)
def report_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _type_ok(value, types) -> bool:
    types = [types] if isinstance(types, str) else types
    for t in types:
        if isinstance(value, bool) and t in ("integer", "number"):
            continue  # JSON true is not a number
        if isinstance(value, _TYPES[t]):
            return True
    return False


def schema_errors(value, schema: dict, path: str = "$", root: dict | None = None) -> list[str]:
    root = root or schema
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [f"{path}: expected {schema['type']}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    errors = []
    if isinstance(value, dict):
        errors += [
            f"{path}.{k}: required field is missing" for k in schema.get("required", []) if k not in value
        ]
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                errors += schema_errors(value[k], sub, f"{path}.{k}", root)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{i}]", root)
    return errors


def load_report(path: str | Path, what: str = "report") -> dict:
    """Read and validate a report.json; a RUN_DIR is accepted too (its report.json is read)."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise UsageError(
            f"{what} {path} does not exist",
            hint="pass a report.json or a run folder written by `edgekit convert`",
        )
    try:
        report = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc}") from exc
    errors = schema_errors(report, report_schema())
    if errors:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        raise UsageError(
            f"{what} {path} does not match report schema 1: {shown}",
            hint=f"the schema is {SCHEMA_PATH}; regenerate the report with this edgekit version",
        )
    return report
