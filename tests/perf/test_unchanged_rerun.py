"""An unchanged re-run: every step reuses its recorded result, so the run costs little more than
starting edgekit. Measured on the bundled demo and on a MobileNetV2 (224x224) recipe, each run
once to fill its run folder and then timed on unchanged re-runs. Goal: <= 5 s. Run with:
    EDGEKIT_RECORD_FIGURES=1 pytest tests/perf/test_unchanged_rerun.py -m perf -s
(the figure file docs/snippets/rerun-figures.md is rewritten only with EDGEKIT_RECORD_FIGURES=1).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.perf

GOAL_S = 5.0
RERUNS = 3
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "rerun-figures.md"
MOBILENET = """\
name: mobilenetv2
source: {handle: "keras:MobileNetV2?weights=random"}
data: {kind: shapes, num_images: 160, split: {validation: 0.2, test: 0.2, seed: 0}}
train: {epochs: 1, batch_size: 16, fine_tune: {enabled: false}}
quantize: {calibration_samples: 32}
bench: {min_runs: 5, min_time_s: 0.2}
"""
NARROW = ["--format", "tflite", "--format", "onnx", "--quant", "fp32", "--quant", "int8"]


def _convert(args: list[str], cache: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", "convert", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "EDGEKIT_CACHE": str(cache)},
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: a row failed its check, still a full run
    return time.perf_counter() - start, proc.stderr


def _rerun_times(args: list[str], cache: Path) -> tuple[float, list[float]]:
    first, _ = _convert(args, cache)
    times = []
    for _ in range(RERUNS):
        took, log = _convert(args, cache)
        assert "measured, " in log and "unchanged, reused" in log, log[-3000:]
        times.append(took)
    return first, times


def test_an_unchanged_rerun_takes_at_most_five_seconds(tmp_path):
    cache = tmp_path / "cache"
    recipe = tmp_path / "mobilenetv2.yaml"
    recipe.write_text(MOBILENET)
    cases = {
        "demo (bundled recipe, host plan)": ["--out", str(tmp_path / "demo")],
        "MobileNetV2 224x224 (TFLite and ONNX, fp32 and int8)": [
            str(recipe),
            "--out",
            str(tmp_path / "mnv2"),
            *NARROW,
        ],
    }
    results = {name: _rerun_times(args, cache) for name, args in cases.items()}
    for name, (first, times) in results.items():
        print(
            f"\n{name}: first run {first:.1f} s; unchanged re-runs {', '.join(f'{t:.2f}' for t in times)} s"
        )
    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        load = os.getloadavg()[0]
        FIGURES.write_text(
            "| recipe | first run | unchanged re-run (median of 3) |\n|---|---|---|\n"
            + "".join(
                f"| {name} | {first:.1f} s | **{statistics.median(times):.2f} s** |\n"
                for name, (first, times) in results.items()
            )
            + f"\nLoad average {load:.1f} at the end of the measurement.\n"
        )
    for name, (_, times) in results.items():
        assert statistics.median(times) <= GOAL_S, name
