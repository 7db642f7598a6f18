"""Conversion matrix cost on MobileNetV2 (keras.applications, weights=None, 224x224, fp32).

Measures, in one run on one machine:
  - each upstream converter run alone in a fresh process, one after another (TFLiteConverter,
    the tf2onnx CLI, the tensorflowjs converter): wall time and peak RSS per format;
  - edgekit converting all three formats from the same reference (one process per format, in
    parallel): wall time and peak RSS of its worker processes;
and prints the ratio edgekit / sum(upstream). Goal: <= 0.6. Run with: pytest tests/perf -m perf -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.perf

UPSTREAM = {
    "tflite": "import tensorflow as tf, sys; c = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1]); "
    "open(sys.argv[2] + '/model.tflite', 'wb').write(c.convert())",
    "onnx": "import sys, runpy; sys.argv = ['tf2onnx.convert', '--saved-model', sys.argv[1], '--opset', '17', "
    "'--output', sys.argv[2] + '/model.onnx']; runpy.run_module('tf2onnx.convert', run_name='__main__')",
    "tfjs": "import sys; from edgekit.convert._tfjs_imports import import_tfjs_converter; "
    "import_tfjs_converter().convert_tf_saved_model(sys.argv[1], sys.argv[2])",
}


def _timed(cmd: list[str], env=None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, stderr[-2000:]
    return wall, usage.ru_maxrss


@pytest.fixture(scope="module")
def mobilenet_reference(tmp_path_factory) -> Path:
    import tf_keras

    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    model = tf_keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3), classes=10)
    folder = tmp_path_factory.mktemp("mnv2") / "reference"
    export_reference(model, folder, Preprocessing((224, 224)), tuple(f"c{i}" for i in range(10)))
    return folder


EDGEKIT = """
import json, sys, time
from pathlib import Path
from edgekit.convert.runner import ConvertJob, run_jobs
ref, out = Path(sys.argv[1]), Path(sys.argv[2])
fmts = sys.argv[3].split(",")
outcomes = []
start = time.perf_counter()
run_jobs([ConvertJob(f, "fp32", ref, out / f, {"analyze": False} if f == "tflite" else {}) for f in fmts], True, outcomes.append)
assert all(o.artifact is not None for o in outcomes), [o.error for o in outcomes]
"""


def test_edgekit_matrix_vs_upstream_converters(mobilenet_reference, tmp_path):
    saved_model = str(mobilenet_reference / "saved_model")
    upstream = {}
    for fmt, code in UPSTREAM.items():
        out = tmp_path / f"upstream-{fmt}"
        out.mkdir()
        upstream[fmt] = _timed([sys.executable, "-c", code, saved_model, str(out)])
    single = {
        fmt: _timed(
            [sys.executable, "-c", EDGEKIT, str(mobilenet_reference), str(tmp_path / f"ek-{fmt}"), fmt]
        )
        for fmt in UPSTREAM
    }
    wall_all, rss_all = _timed(
        [
            sys.executable,
            "-c",
            EDGEKIT,
            str(mobilenet_reference),
            str(tmp_path / "ek-all"),
            ",".join(UPSTREAM),
        ]
    )
    total_upstream = sum(w for w, _ in upstream.values())
    figures = {
        "upstream_s": {f: round(w, 1) for f, (w, _) in upstream.items()},
        "upstream_peak_rss_mb": {f: round(r / 1024) for f, (_, r) in upstream.items()},
        "edgekit_single_format_s": {f: round(w, 1) for f, (w, _) in single.items()},
        "edgekit_single_format_peak_rss_mb": {f: round(r / 1024) for f, (_, r) in single.items()},
        "upstream_total_s": round(total_upstream, 1),
        "edgekit_all_three_s": round(wall_all, 1),
        "edgekit_all_three_peak_rss_mb (largest process)": round(rss_all / 1024),
        "ratio": round(wall_all / total_upstream, 3),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    assert wall_all / total_upstream <= 0.6, figures
