"""All three formats from one reference: edgekit against the upstream converters run in sequence.

Per model (keras.applications, weights=None, 224x224, 10 classes; the reference exported by
edgekit.train.export.export_reference, which both sides read), in one run on one machine:
  - upstream: TFLiteConverter.from_saved_model, the tf2onnx CLI and tensorflowjs's
    convert_tf_saved_model (with tensorflowjs's own batch-norm folding), each alone in a fresh
    process, one after another: wall time and peak RSS per format;
  - edgekit: fp32 TFLite, ONNX and TF.js through edgekit.convert.runner.run_jobs (parallel, as
    `edgekit convert` runs them): wall time of the whole process, and each conversion's peak RSS.
Rounds alternate upstream and edgekit; the ratio is edgekit / sum(upstream) per round, and the
table shows the median round. Peak RSS is VmHWM from /proc (edgekit's from its job records: the
worker's, or a process it waited for), so Linux only. Goal: ratio <= 0.35 for every model. Run with:
    EDGEKIT_RECORD_FIGURES=1 pytest tests/perf/test_conversion_matrix.py -m perf -s
EDGEKIT_MATRIX_MODELS=MobileNetV2 selects models; EDGEKIT_MATRIX_ROUNDS sets the rounds (default 3).
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

GOAL = 0.35
FORMATS = ("tflite", "onnx", "tfjs")
MODELS = ("MobileNetV2", "ResNet50")
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "conversion-matrix.md"

UPSTREAM = {
    "tflite": "import tensorflow as tf, sys; c = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1]); "
    "open(sys.argv[2] + '/model.tflite', 'wb').write(c.convert())",
    "onnx": "import sys, runpy; sys.argv = ['tf2onnx.convert', '--saved-model', sys.argv[1], '--opset', '17', "
    "'--output', sys.argv[2] + '/model.onnx']; runpy.run_module('tf2onnx.convert', run_name='__main__')",
    # edgekit's import helper only works around tensorflowjs's unresolvable imports; reloading the
    # fold module puts tensorflowjs's own batch-norm folding back in place of edgekit's
    "tfjs": "import sys, importlib; from edgekit.convert._tfjs_imports import import_tfjs_converter; "
    "c = import_tfjs_converter(); importlib.reload(importlib.import_module('tensorflowjs.converters.fold_batch_norms')); "
    "c.convert_tf_saved_model(sys.argv[1], sys.argv[2])",
}

EDGEKIT = """
import json, sys
from pathlib import Path
from edgekit.convert.runner import ConvertJob, run_jobs
ref, out = Path(sys.argv[1]), Path(sys.argv[2])
jobs = [ConvertJob(f, "fp32", ref, out / f, {"analyze": False} if f == "tflite" else {}) for f in sys.argv[3].split(",")]
outcomes = []
run_jobs(jobs, True, outcomes.append)
assert all(o.artifact is not None for o in outcomes), [o.error for o in outcomes]
print(json.dumps({o.job.format: [o.seconds, o.peak_rss_bytes] for o in outcomes}))
"""


def _timed(cmd: list[str]) -> tuple[float, str]:
    """Wall seconds and stdout of a child process that must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    return wall, proc.stdout


def _child_peak(code: str, *args: str) -> tuple[float, int, str]:
    """Run CODE in a child that reports its own peak RSS (and its children's) on its last line."""
    wrapper = (
        "import sys\n"
        "code = sys.argv[1]; sys.argv = ['-c', *sys.argv[2:]]\n"
        "exec(compile(code, '<bench>', 'exec'), {'__name__': '__main__'})\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of this large pytest
        # process would report at least pytest's size
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print('PEAK', int(hwm) * 1024)\n"
    )
    wall, out = _timed([sys.executable, "-c", wrapper, code, *args])
    lines = out.strip().splitlines()
    return wall, int(lines[-1].split()[1]), "\n".join(lines[:-1])


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    import tf_keras

    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    wanted = os.environ.get("EDGEKIT_MATRIX_MODELS", ",".join(MODELS)).split(",")
    out = {}
    for name in wanted:
        model = getattr(tf_keras.applications, name)(weights=None, input_shape=(224, 224, 3), classes=10)
        folder = tmp_path_factory.mktemp(name) / "reference"
        export_reference(model, folder, Preprocessing((224, 224)), tuple(f"c{i}" for i in range(10)))
        out[name] = (folder, model.count_params())
    return out


def _round(reference: Path, work: Path) -> dict:
    saved_model = str(reference / "saved_model")
    upstream = {}
    for fmt, code in UPSTREAM.items():
        out = work / f"upstream-{fmt}"
        out.mkdir(parents=True)
        wall, peak, _ = _child_peak(code, saved_model, str(out))
        upstream[fmt] = (wall, peak)
    wall, peak, stdout = _child_peak(EDGEKIT, str(reference), str(work / "edgekit"), ",".join(FORMATS))
    jobs = json.loads(stdout.strip().splitlines()[-1])
    total = sum(w for w, _ in upstream.values())
    return {
        "upstream": upstream,
        "edgekit_s": wall,
        "edgekit_jobs": jobs,
        "ratio": wall / total,
        "total": total,
    }


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _table(results: dict[str, tuple[int, dict]], load: tuple[str, str]) -> str:
    lines = [
        "| model | parameters | format | upstream: time | upstream: peak RSS | edgekit: peak RSS |",
        "|---|---:|---|---:|---:|---:|",
    ]
    summary = [
        "| model | upstream, three converters in sequence | edgekit, all three | ratio (goal ≤ 0.35) |",
        "|---|---:|---:|---:|",
    ]
    for name, (params, r) in results.items():
        for fmt in FORMATS:
            wall, peak = r["upstream"][fmt]
            lines.append(
                f"| {name} | {params / 1e6:.1f} M | {fmt} | {wall:.1f} s | {_mib(peak)} | "
                f"{_mib(r['edgekit_jobs'][fmt][1])} |"
            )
        summary.append(f"| {name} | {r['total']:.1f} s | {r['edgekit_s']:.1f} s | {r['ratio']:.2f} |")
    cpus = os.cpu_count()
    return (
        "\n".join(summary)
        + "\n\n"
        + "\n".join(lines)
        + f"\n\nfp32; the median of the rounds by ratio; {cpus} CPUs; load average {load[0]} at the start, "
        f"{load[1]} at the end.\n"
    )


def test_all_three_formats_against_the_upstream_converters(references, tmp_path):
    rounds = int(os.environ.get("EDGEKIT_MATRIX_ROUNDS", "3"))
    load_start = open("/proc/loadavg").read().split()[0]
    results = {}
    for name, (reference, params) in references.items():
        measured = [_round(reference, tmp_path / name / f"round{i}") for i in range(rounds)]
        median = sorted(measured, key=lambda r: r["ratio"])[len(measured) // 2]
        results[name] = (params, median)
        print(name, json.dumps([round(r["ratio"], 3) for r in measured]), json.dumps(median, default=str))
    table = _table(results, (load_start, open("/proc/loadavg").read().split()[0]))
    print(table)
    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        FIGURES.write_text(table)
    ratios = {name: round(r["ratio"], 3) for name, (_, r) in results.items()}
    assert all(ratio <= GOAL for ratio in ratios.values()), ratios
