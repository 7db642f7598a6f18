"""Three targets in one run against three single-target runs of the same recipe.

Each single-target run starts from an empty output folder (as three separate CI jobs would), so
each trains and converts; the three-target run trains and converts once and measures per target.
Goal: ratio <= 0.45 on the 2-core development machine. Run with:
    EDGEKIT_RECORD_FIGURES=1 pytest tests/perf/test_multi_target.py -m perf -s
(the figure file docs/snippets/multi-target-figures.md is rewritten only with EDGEKIT_RECORD_FIGURES=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.perf

TARGETS = ("rpi4", "android-mid", "rpi5")
SETTINGS = ["--set", "train.epochs=3", "--set", "train.fine_tune.epochs=2", "--threads", "2"]
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "multi-target-figures.md"


def _convert(out: Path, target: str, cache: Path) -> float:
    env = {**os.environ, "EDGEKIT_CACHE": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", "convert", "--target", target, "--out", str(out), *SETTINGS],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return time.perf_counter() - start


def test_three_targets_in_one_run_cost_less_than_half_of_three_runs(tmp_path):
    cache = tmp_path / "cache"
    _convert(tmp_path / "warm", "host", cache)  # the demo backbone built and cached once, for both sides
    singles = [_convert(tmp_path / f"single-{t}", t, cache) for t in TARGETS]
    combined = _convert(tmp_path / "combined", ",".join(TARGETS), cache)
    ratio = combined / sum(singles)
    print(
        f"\nthree single-target runs: {' + '.join(f'{s:.1f}' for s in singles)} = {sum(singles):.1f} s; "
        f"one three-target run: {combined:.1f} s; ratio {ratio:.2f}"
    )
    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        load = os.getloadavg()[0]
        FIGURES.write_text(
            "| run | wall time |\n|---|---|\n"
            + "".join(
                f"| `convert --target {t}` (empty output folder) | {s:.1f} s |\n"
                for t, s in zip(TARGETS, singles)
            )
            + f"| `convert --target {','.join(TARGETS)}` | {combined:.1f} s |\n"
            + f"| ratio | **{ratio:.2f}** (load average {load:.1f} at the end) |\n"
        )
    assert ratio <= 0.45
