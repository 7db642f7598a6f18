"""Peak memory of conversions on large models: ResNet50, ResNet152, VGG16 (keras.applications,
weights=None, 224x224, 10 classes). Goal: every conversion peaks at <= 3x the model's
weight bytes + 1.5 GB.

Per model and format: edgekit's peak RSS, one job at a time through run_jobs in a fresh process:
the peak is the larger of wait4's ru_maxrss (its largest process: the conversion worker, or a
process the worker starts, such as ONNX's freezing process for large models) and the sum over all
of them sampled every 20 ms (what the memory limit counts); JobOutcome.peak_rss_bytes alone would
miss the processes the worker starts. For fp32, the upstream converter's run alone in a fresh process
(ru_maxrss; stopped at UPSTREAM_CAP, shown as "> cap"). Run with (heavy: take the lock):
    EDGEKIT_RECORD_FIGURES=1 pytest tests/perf/test_conversion_memory.py -m perf -s
Every quant mode of every format is measured; the int8 and int16x8 modes calibrate on
CALIBRATION_SAMPLES seeded random images. EDGEKIT_MEMORY_MODELS=ResNet50,VGG16 picks models,
EDGEKIT_MEMORY_FORMATS=tfjs,tflite formats, EDGEKIT_MEMORY_QUANTS=fp32,int8 modes, and
EDGEKIT_MEMORY_UPSTREAM=0 skips the upstream runs. The figure file
docs/snippets/conversion-memory.md is written only with EDGEKIT_RECORD_FIGURES=1, and a filtered
run replaces only the rows it measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.perf

# each upstream converter as its users run it (the same commands as tests/perf/test_conversion_matrix.py)
UPSTREAM = {
    "tflite": "import tensorflow as tf, sys; c = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1]); "
    "open(sys.argv[2] + '/model.tflite', 'wb').write(c.convert())",
    "onnx": "import sys, runpy; sys.argv = ['tf2onnx.convert', '--saved-model', sys.argv[1], '--opset', '17', "
    "'--output', sys.argv[2] + '/model.onnx']; runpy.run_module('tf2onnx.convert', run_name='__main__')",
    "tfjs": "import sys; from edgekit.convert._tfjs_imports import import_tfjs_converter; "
    "import_tfjs_converter().convert_tf_saved_model(sys.argv[1], sys.argv[2])",
}
MODELS = tuple(os.environ.get("EDGEKIT_MEMORY_MODELS", "ResNet50,ResNet152,VGG16").split(","))
ALL_JOBS = tuple(
    [("onnx", q) for q in ("fp32", "fp16", "dynamic-int8", "int8")]
    + [("tflite", q) for q in ("fp32", "fp16", "dynamic-int8", "int8", "int16x8")]
    + [("tfjs", q) for q in ("fp32", "fp16", "uint8", "uint16")]
)
_FORMATS = os.environ.get("EDGEKIT_MEMORY_FORMATS", "onnx,tflite,tfjs").split(",")
_QUANTS = os.environ.get("EDGEKIT_MEMORY_QUANTS", "").split(",")
JOBS = tuple((f, q) for f, q in ALL_JOBS if f in _FORMATS and (_QUANTS == [""] or q in _QUANTS))
UPSTREAM_TOO = os.environ.get("EDGEKIT_MEMORY_UPSTREAM", "1") != "0"
CALIBRATION_SAMPLES = 8
SAMPLE_SECONDS = 0.02
GB = 1000**3
UPSTREAM_CAP = 12 * 1024**3  # an upstream converter past this is stopped (the machine has 24 GB)
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "conversion-memory.md"

MAKE_REFERENCE = """
import sys
from pathlib import Path
import tf_keras
from edgekit.train.export import export_reference
from edgekit.train.preprocess import Preprocessing
name, out = sys.argv[1], Path(sys.argv[2])
model = getattr(tf_keras.applications, name)(weights=None, input_shape=(224, 224, 3), classes=10)
print(model.count_params(), sum(w.numpy().nbytes for w in model.weights))
export_reference(model, out, Preprocessing((224, 224)), tuple(f"c{i}" for i in range(10)))
"""


def limit_bytes(weight_bytes: int) -> int:
    return 3 * weight_bytes + int(1.5 * GB)


def _gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB"


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def upstream_peak(fmt: str, saved_model: Path, out: Path) -> tuple[int | None, float]:
    """Peak RSS (bytes; None when stopped at UPSTREAM_CAP) and seconds of the upstream converter alone."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM[fmt], str(saved_model), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done, stopped = threading.Event(), threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            if _rss(proc.pid) > UPSTREAM_CAP and not done.is_set():
                proc.kill()
                stopped.set()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if stopped.is_set():
        return None, seconds
    assert proc.returncode == 0, f"upstream {fmt} failed with {proc.returncode}"
    return usage.ru_maxrss * 1024, seconds


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, tuple[Path, int, int]]:
    """Model name -> (reference folder, parameters, weight bytes); each built in its own process."""
    refs = {}
    for name in MODELS:
        folder = tmp_path_factory.mktemp(name.lower()) / "reference"
        done = subprocess.run(
            [sys.executable, "-c", MAKE_REFERENCE, name, str(folder)],
            capture_output=True,
            text=True,
            check=True,
        )
        params, weight_bytes = map(int, done.stdout.split()[-2:])
        refs[name] = (folder, params, weight_bytes)
    return refs


EDGEKIT_ONE = """
import json, sys
from pathlib import Path
import numpy as np
from edgekit.convert.runner import ConvertJob, run_jobs
fmt, quant, ref, out, samples = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
calibration = np.random.default_rng(0).random((samples, 224, 224, 3), dtype=np.float32)  # preprocessed: [0, 1]
outcomes = []
options = {"analyze": False} if fmt == "tflite" else {}
run_jobs([ConvertJob(fmt, quant, ref, out, options, calibration)], False, outcomes.append)
o = outcomes[0]
print(json.dumps({"error": o.error, "seconds": o.seconds, "worker_peak": o.peak_rss_bytes}))
"""


def edgekit_peak(fmt: str, quant: str, reference: Path, out: Path) -> tuple[int, dict]:
    """Peak RSS of one edgekit conversion run through run_jobs in a fresh process, and the job's
    outcome (error, seconds, the worker's own peak). The peak is the larger of the largest single
    process's (wait4's ru_maxrss: the worker, or a process the worker starts) and the sum over the
    worker and every process below it, sampled every SAMPLE_SECONDS (what the memory limit counts)."""
    import json

    from edgekit.convert.memory import descendants, resident_bytes

    proc = subprocess.Popen(
        [sys.executable, "-c", EDGEKIT_ONE, fmt, quant, str(reference), str(out), str(CALIBRATION_SAMPLES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    done, tree_peak = threading.Event(), [0]

    def watch() -> None:  # the launcher itself (a few dozen MB) is not counted: only what it started
        while not done.wait(SAMPLE_SECONDS):
            tree = sum(resident_bytes(child) or 0 for child in descendants(proc.pid))
            tree_peak[0] = max(tree_peak[0], tree)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    outcome = json.loads(stdout.strip().splitlines()[-1])
    outcome["largest_process"], outcome["tree_sampled"] = usage.ru_maxrss * 1024, tree_peak[0]
    return max(usage.ru_maxrss * 1024, tree_peak[0]), outcome


def test_conversion_peak_memory(references, tmp_path):
    rows, over = [], []
    for name, (reference, params, weight_bytes) in references.items():
        limit = limit_bytes(weight_bytes)
        upstream = {
            fmt: upstream_peak(fmt, reference / "saved_model", tmp_path / name / f"upstream-{fmt}")
            for fmt in sorted({f for f, _ in JOBS})
            if UPSTREAM_TOO
        }
        for fmt, quant in JOBS:
            peak, o = edgekit_peak(fmt, quant, reference, tmp_path / name / f"{fmt}-{quant}")
            ok = o["error"] is None and peak <= limit
            up_peak, up_s = upstream[fmt] if quant == "fp32" and fmt in upstream else (None, None)
            if up_s is None:
                up_text = "—"
            else:
                up_text = _gib(up_peak) if up_peak else f"> {_gib(UPSTREAM_CAP)} (stopped)"
            mine = f"**{_gib(peak)}**" if ok else f"{_gib(peak)} (over)"
            if o["error"] is not None:
                mine = f"failed: {o['error'][:80]}"
            seconds = f"{o['seconds'] or 0:.0f} s" + (f" / {up_s:.0f} s" if up_s is not None else "")
            rows.append(
                f"| {name} | {params / 1e6:.1f} M | {weight_bytes / 1e6:.0f} MB | {fmt} {quant} | {mine} "
                f"| {up_text} | {_gib(limit)} | {seconds} | {os.getloadavg()[0]:.1f} |"
            )
            parts = f"largest process {_gib(o['largest_process'])}, all sampled {_gib(o['tree_sampled'])}"
            print(rows[-1], f"({parts})", flush=True)
            if not ok:
                over.append(f"{name} {fmt} {quant}: {peak} > {limit} ({o['error']})")
    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        record_rows(rows)
    assert not over, over


TABLE_HEAD = (
    "| model | parameters | weight bytes | format | edgekit peak RSS | upstream peak RSS (fp32) "
    "| limit (3x weights + 1.5 GB) | seconds (edgekit / upstream) | load |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)
TABLE_FOOT = (
    "\nOne conversion at a time on {cpus} CPUs; load is the 1-minute load average when the row was "
    "measured. edgekit's peak is the larger of its largest process's (wait4) and the sum over the "
    "conversion worker and the processes it starts, sampled every 20 ms. int8 and int16x8 calibrate "
    "on {samples} images.\n"
)


def record_rows(rows: list[str]) -> None:
    """Write ROWS into the figure file: a row replaces the recorded row of the same model, format and
    mode, so a run filtered to some formats updates only theirs. Rows are kept in model, then job order."""

    def key(row: str) -> tuple[str, str]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        return cells[0], cells[3]

    kept = {}
    if FIGURES.is_file():
        old = [
            line for line in FIGURES.read_text().splitlines() if line.startswith("| ") and "---" not in line
        ]
        kept = {
            key(row): row
            for row in old[1:]
            if len(row.split("|")) == len(TABLE_HEAD.split("\n")[0].split("|"))
        }
    kept.update({key(row): row for row in rows})
    jobs = [f"{f} {q}" for f, q in ALL_JOBS]
    names = list(dict.fromkeys([*MODELS, *(m for m, _ in kept)]))
    ordered = sorted(kept, key=lambda k: (names.index(k[0]), jobs.index(k[1]) if k[1] in jobs else len(jobs)))
    FIGURES.write_text(
        TABLE_HEAD
        + "\n".join(kept[k] for k in ordered)
        + "\n"
        + TABLE_FOOT.format(cpus=os.cpu_count(), samples=CALIBRATION_SAMPLES)
    )


MAKE_HUGE = """
import sys
from pathlib import Path
import tf_keras
from edgekit.train.export import export_reference
from edgekit.train.preprocess import Preprocessing
inputs = tf_keras.Input((32, 32, 3))
x = tf_keras.layers.Flatten()(inputs)
for width in (16384, 16384, 16384):  # each kernel under 2 GB (one tensor cannot be larger)
    x = tf_keras.layers.Dense(width, activation="relu")(x)
model = tf_keras.Model(inputs, tf_keras.layers.Dense(10, activation="softmax")(x))
print(model.count_params(), sum(w.numpy().nbytes for w in model.weights))
export_reference(model, Path(sys.argv[1]), Preprocessing((32, 32)), tuple(f"c{i}" for i in range(10)))
"""

EXPORT_AND_RUN = """
import sys
from pathlib import Path
import numpy as np
import onnxruntime as ort
from edgekit.convert.onnx_export import export_fp32
out = Path(sys.argv[2])
warnings = []
export_fp32(Path(sys.argv[1]), 17, out, warnings)
assert not [w for w in warnings if w.startswith("edgekit:")], warnings
session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
y = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 32, 32, 3), np.float32)})[0]
assert y.shape == (1, 10) and np.isfinite(y).all()
print(out.stat().st_size, (out.parent / (out.name + ".data")).stat().st_size)
"""


def test_onnx_over_2gib_is_written_with_external_data(tmp_path):
    """A model with more than 2 GiB of weights: model.onnx + model.onnx.data, loaded by ONNX Runtime."""
    reference = tmp_path / "reference"
    made = subprocess.run(
        [sys.executable, "-c", MAKE_HUGE, str(reference)], capture_output=True, text=True, check=True
    )
    params, weight_bytes = map(int, made.stdout.split()[-2:])
    assert weight_bytes > 2 * 1024**3
    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORT_AND_RUN, str(reference / "saved_model"), str(tmp_path / "model.onnx")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    model_bytes, data_bytes = map(int, stdout.split()[-2:])
    print(
        f"\n{params / 1e6:.0f} M parameters, {weight_bytes / 1e9:.2f} GB of weights: model.onnx {model_bytes} B, "
        f"model.onnx.data {data_bytes / 1e9:.2f} GB, peak RSS {_gib(usage.ru_maxrss * 1024)} "
        f"(limit {_gib(limit_bytes(weight_bytes))})"
    )
    assert model_bytes < 2**31 and data_bytes >= 0.99 * weight_bytes
