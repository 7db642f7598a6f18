"""Two runs of `edgekit bench` on the same artifact agree within 5% at p50 on a quiet machine.

Run: uv run pytest tests/perf -m perf -q -s
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_harness_overhead import build_medium_tflite

pytestmark = pytest.mark.perf


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    root = tmp_path_factory.mktemp("repeat")
    return build_medium_tflite(root / "reference", root / "tflite-fp32")


def _cli_p50(path) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgekit",
            "bench",
            str(path),
            "--threads",
            "1",
            "--min-runs",
            "300",
            "--min-time",
            "2",
            "--warmup",
            "20",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    [r] = json.loads(out.stdout)["results"]
    assert r["status"] == "ok"
    return r


def test_two_cli_runs_agree_within_5_percent_at_p50(medium):
    a, b = _cli_p50(medium.folder), _cli_p50(medium.folder)
    diff = abs(a["p50_ms"] - b["p50_ms"]) / min(a["p50_ms"], b["p50_ms"])
    print(
        f"\nrepeatability: p50 {a['p50_ms']:.4f} ms vs {b['p50_ms']:.4f} ms → {diff:.2%} apart "
        f"(CV {a['cv']:.1%} / {b['cv']:.1%}, {a['validity']} / {b['validity']}, load avg {a['host']['load_avg']})"
    )
    assert diff <= 0.05
