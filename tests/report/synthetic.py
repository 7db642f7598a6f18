"""Synthetic but schema-valid reports and run folders, so report/check/bundle tests run in seconds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

CLASSES = ["horizontal", "vertical", "diagonal", "checker"]


def bench_entry(samples: np.ndarray) -> dict:
    s = np.asarray(samples, dtype=np.float64)
    return {
        "runs": int(s.size),
        "p50_ms": float(np.median(s)),
        "p90_ms": float(np.percentile(s, 90)),
        "p99_ms": float(np.percentile(s, 99)),
        "mean_ms": float(s.mean()),
        "cv": float(s.std() / s.mean()),
        "validity": "VALID",
        "runtime": {"runtime": "litert"},
        "samples_ms": s.tolist(),
    }


def latency_samples(median_ms: float, n: int = 300, seed: int = 0) -> np.ndarray:
    """Right-skewed like real latencies: a floor plus log-normal noise with a few slow outliers."""
    rng = np.random.default_rng(seed)
    s = median_ms * rng.lognormal(0.0, 0.08, n)
    s[rng.random(n) < 0.02] *= 3.0
    return s


def artifact_row(
    fmt: str,
    quant: str,
    model: bytes,
    latency_ms: float,
    accuracy: float,
    seed: int = 0,
    verdict: str = "pass",
    estimate: dict | None = None,
) -> dict:
    int8 = quant == "int8"

    def tensor(name, shape):
        return {
            "name": name,
            "shape": shape,
            "dtype": "int8" if int8 else "float32",
            "scale": 0.0039 if int8 else None,
            "zero_point": -128 if int8 else None,
        }

    return {
        "format": fmt,
        "quant": quant,
        "status": "ok",
        "error": None,
        "notes": [],
        "parity": {
            "samples": 24,
            "cosine": 0.9999,
            "max_abs_err": 0.006,
            "mean_abs_err": 0.001,
            "top1_agreement": 0.96,
            "accuracy": accuracy,
            "reference_accuracy": 0.9,
            "verdict": verdict,
            "reasons": [],
        },
        "bench": bench_entry(latency_samples(latency_ms, seed=seed)),
        "estimate": estimate,
        "artifact": {
            "format": fmt,
            "quant": quant,
            "path": "model.tflite",
            "sha256": hashlib.sha256(model).hexdigest(),
            "size_bytes": len(model),
            "inputs": [tensor("image", [1, 64, 64, 3])],
            "outputs": [tensor("probs", [1, 4])],
            "metadata": {
                "settings": {"optimize": int8, "calibrate": int8},
                "io_type": "int8" if int8 else "float32",
                "calibration_samples": 112 if int8 else 0,
            },
        },
    }


def model_bytes(quant: str) -> bytes:
    """Fake-but-stable flatbuffer-looking bytes (the TFLite magic at offset 4)."""
    body = hashlib.sha256(quant.encode()).digest() * (40 if quant == "fp32" else 20)
    return b"\x1c\x00\x00\x00TFL3" + body


def make_report(rows: list[dict] | None = None) -> dict:
    rows = (
        rows
        if rows is not None
        else [
            artifact_row("tflite", "fp32", model_bytes("fp32"), 2.0, 0.90, seed=1),
            artifact_row("tflite", "int8", model_bytes("int8"), 1.1, 0.88, seed=2),
            artifact_row("tflite", "fp16", model_bytes("fp16"), 2.4, 0.89, seed=3),
        ]
    )
    return {
        "schema_version": 1,
        "edgekit_version": "0.1.0",
        "created_unix": 1700000000,
        "recipe": {"name": "demo", "path": "recipes/demo.yaml", "hash": "c7044bd643ca55ee"},
        "target": {"name": "rpi4", "description": "Raspberry Pi 4", "threads": 4},
        "source": {
            "spec": "demo:shapes-cnn",
            "canonical": "demo:shapes-cnn/3",
            "sha256": "7d" * 32,
            "notes": [],
            "manifest": {},
        },
        "reference": {"path": "reference/saved_model", "test_accuracy": 0.9, "classes": CLASSES},
        "host": {
            "cpu": "Test CPU",
            "cores": 2,
            "python": "3.11.7",
            "packages": {"tensorflow": "2.21.0", "ai-edge-litert": "2.3.0"},
        },
        "timings_s": {},
        "artifacts": rows,
    }


def write_run_dir(root: Path, report: dict | None = None, order: list[str] | None = None) -> Path:
    """A run folder as `edgekit convert` writes it. ORDER permutes file creation (determinism tests)."""
    report = report or make_report()
    run = root / "demo" / "rpi4"
    files: dict[str, bytes] = {
        "reference/labels.txt": ("\n".join(CLASSES) + "\n").encode(),
        "reference/preprocessing.json": json.dumps(
            {"input_size": [64, 64], "value_range": [0.0, 1.0]}
        ).encode(),
        "report.json": json.dumps(report, indent=2).encode(),
    }
    for a in report["artifacts"]:
        folder = f"artifacts/{a['format']}-{a['quant']}"
        files[f"{folder}/model.tflite"] = model_bytes(a["quant"])
        files[f"{folder}/artifact.json"] = json.dumps(a["artifact"], indent=2).encode()
        files[f"{folder}/labels.txt"] = files["reference/labels.txt"]
    for name in order or sorted(files):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(files[name])
    return run
