"""`--set` options that make the bundled demo recipe quick enough for a test run (tiny data, an
epoch or two, short measurements), shared by the tests that run `edgekit convert` end to end."""

from __future__ import annotations


def tiny_demo(epochs: int = 1, calibration_samples: int | None = 60) -> list[str]:
    settings = {
        "data.num_images": 160,
        "train.epochs": epochs,
        "train.fine_tune.epochs": 1,
        "bench.min_runs": 5,
        "bench.min_time_s": 0.05,
    }
    if calibration_samples is not None:
        settings["quantize.calibration_samples"] = calibration_samples
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


# one TFLite fp32 and one int8 artifact, measured with one thread
TFLITE_FP32_INT8 = ["--format", "tflite", "--quant", "fp32", "--quant", "int8", "--threads", "1"]
