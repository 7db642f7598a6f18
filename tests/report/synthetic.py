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


# -- reports with everything report.html draws: estimates with bands, device runs, memory limits,
# int8 attribution, a confusion matrix. Used by the HTML tests and the screenshots in docs/img/.

_FORMATS_20 = [
    ("tflite", "fp32"),
    ("tflite", "fp16"),
    ("tflite", "dynamic-int8"),
    ("tflite", "int8"),
    ("tflite", "int16x8"),
    ("onnx", "fp32"),
    ("onnx", "fp16"),
    ("onnx", "dynamic-int8"),
    ("onnx", "int8"),
    ("onnx", "uint8"),
    ("tfjs", "fp32"),
    ("tfjs", "fp16"),
    ("tfjs", "uint8"),
    ("tfjs", "uint16"),
    ("ncnn", "fp32"),
    ("ncnn", "fp16"),
    ("ncnn", "int8"),
    ("executorch", "fp32"),
    ("executorch", "fp16"),
    ("executorch", "int8"),
]
# Fewer distinct accuracies than artifacts on purpose: points share a height, as in real runs.
_ACCURACY = {"fp32": 0.9, "fp16": 0.9, "uint16": 0.9, "int16x8": 0.895, "dynamic-int8": 0.89, "uint8": 0.885}
_SPEED = {
    "fp32": 1.0,
    "fp16": 0.9,
    "uint16": 1.0,
    "int16x8": 3.0,
    "dynamic-int8": 0.8,
    "uint8": 0.6,
    "int8": 0.45,
}
_FORMAT_SPEED = {"tflite": 1.0, "onnx": 1.1, "tfjs": 2.5, "ncnn": 0.9, "executorch": 1.05}
WORST_LAYERS = [
    {
        "layer": "model/features/MatMul;model/outlier_block/mul",
        "keras_layers": ["features", "outlier_block"],
        "signal_lost": 0.94,
        "rmse": 0.91,
        "max_abs_error": 3.2,
        "mean_error": 0.25,
    },
    {
        "layer": "model/probabilities/MatMul;model/probabilities/BiasAdd1",
        "keras_layers": ["probabilities"],
        "signal_lost": 0.0,
        "rmse": 6.96,
        "max_abs_error": 8.7,
        "mean_error": -0.03,
    },
    {
        "layer": "Relu6;Conv2D",
        "keras_layers": [],
        "signal_lost": 0.0,
        "rmse": 0.0016,
        "max_abs_error": 0.011,
        "mean_error": -0.0002,
    },
]


def rich_report(n: int = 20, target: str = "rpi4", device: bool = True) -> dict:
    """A report with N artifacts (3 or 20 make sense) and every section report.html draws."""
    cells = (
        _FORMATS_20 if n >= len(_FORMATS_20) else [("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32")]
    )
    rows = []
    small = target == "mcu-m7"  # a microcontroller: sizes near its limits, so the limit lines are on scale
    for i, (fmt, quant) in enumerate(cells[:n]):
        speed = _SPEED.get(quant, 0.5) * _FORMAT_SPEED.get(fmt, 1.0)
        acc = _ACCURACY.get(quant, 0.8 if quant == "int8" and fmt == "tflite" else 0.875)
        size = int(
            (300_000 if small else 9_000_000) * (0.27 if "8" in quant else 0.5 if "16" in quant else 1.0)
        )
        latency = (120.0 if small else 12.0) * speed
        estimate = {
            "target": target,
            "runtime": "litert",
            "quant": quant,
            "threads": 4,
            "latency_ms": latency,
            "low_ms": latency * 0.72,
            "high_ms": latency * 1.45,
            "peak_ram_bytes": int(size * (1.6 if small else 2.4)),
            "flash_bytes": size,
            "fits": True,
            "memory": {},
            "warnings": [],
            "basis": "synthetic",
        }
        row = artifact_row(
            fmt, quant, model_bytes(f"{fmt}-{quant}"), latency / 6, acc, seed=i, estimate=estimate
        )
        row["artifact"]["size_bytes"] = size
        if fmt == "tflite" and quant == "int8":
            row["parity"].update(verdict="fail", top1_agreement=0.39, worst_layers=WORST_LAYERS)
        if device and fmt == "tflite" and quant in ("fp32", "int8"):
            row["device"] = [
                {"status": "ok", "p50_ms": latency * 1.2, "validity": "VALID", "device": {"name": "pi-desk"}}
            ]
        rows.append(row)
    report = make_report(rows)
    report["target"] = {
        "name": target,
        "description": "Cortex-M7 microcontroller" if small else "Raspberry Pi 4",
        "threads": 1 if small else 4,
        "ram_bytes": 512 * 1024 if small else 4 << 30,
        "flash_bytes": 2 << 20 if small else None,
        "storage_bytes": None if small else 32 << 30,
    }
    report["reference"]["confusion_matrix"] = {
        "labels": CLASSES,
        "rows_true_columns_predicted": [[28, 1, 1, 0], [2, 25, 3, 0], [0, 4, 24, 2], [0, 0, 1, 29]],
    }
    return report
