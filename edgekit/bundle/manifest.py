"""manifest.json: everything a firmware or deployment engineer needs to trust and use the bundle.

Nothing time- or machine-path-dependent goes in (no creation time, no absolute paths), so the
manifest, and therefore the bundle, is reproducible.
"""

from __future__ import annotations

import hashlib

MANIFEST_VERSION = 1
PARITY_KEYS = (
    "verdict",
    "accuracy",
    "reference_accuracy",
    "top1_agreement",
    "cosine",
    "max_abs_err",
    "samples",
)
BENCH_KEYS = ("runs", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "cv", "validity", "runtime")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pick(d: dict | None, keys: tuple[str, ...]) -> dict | None:
    return None if not d else {k: d[k] for k in keys if k in d}


def artifact_entry(row: dict, model_path: str, c_files: dict | None) -> dict:
    art, meta = row["artifact"], row["artifact"].get("metadata", {})
    return {
        "name": f"{row['format']}-{row['quant']}",
        "format": row["format"],
        "quant": row["quant"],
        "path": model_path,
        "sha256": art["sha256"],
        "size_bytes": art["size_bytes"],
        "quant_settings": {"settings": meta.get("settings"), "io_type": meta.get("io_type")},
        # The converter records how many calibration samples it used; the hash of that set is
        # recorded when the converter provides it (calibration_sha256), else null.
        "calibration": {"samples": meta.get("calibration_samples"), "sha256": meta.get("calibration_sha256")},
        "inputs": art.get("inputs", []),
        "outputs": art.get("outputs", []),
        "parity": _pick(row.get("parity"), PARITY_KEYS),
        "bench": _pick(row.get("bench"), BENCH_KEYS),
        "estimate": row.get("estimate"),
        "c_array": c_files,
    }


def build_manifest(
    report: dict, preprocessing: dict | None, artifacts: list[dict], files: dict[str, bytes]
) -> dict:
    """FILES: every bundled file except manifest.json and SHA256SUMS, by archive path."""
    host = report.get("host", {})
    return {
        "manifest_version": MANIFEST_VERSION,
        "edgekit_version": report["edgekit_version"],
        "recipe": {"name": report["recipe"]["name"], "hash": report["recipe"]["hash"]},
        "source": {
            "handle": report["source"]["canonical"],
            "spec": report["source"].get("spec"),
            "sha256": report["source"]["sha256"],
        },
        "target": {"name": report["target"]["name"], "description": report["target"].get("description")},
        "toolchain": {"python": host.get("python"), **host.get("packages", {})},
        "preprocessing": preprocessing,
        "labels": {"path": "labels.txt", "classes": report["reference"]["classes"]},
        "artifacts": artifacts,
        "files": [
            {"path": p, "size_bytes": len(files[p]), "sha256": sha256_bytes(files[p])} for p in sorted(files)
        ],
    }


def sha256sums(files: dict[str, bytes]) -> bytes:
    """The coreutils format (`sha256sum -c SHA256SUMS` checks an extracted bundle)."""
    return "".join(f"{sha256_bytes(files[p])}  {p}\n" for p in sorted(files)).encode()
