"""Conversion time and peak memory by model size, from 1 M to 140 M parameters.

Each model is a keras.applications network built with weights=None (224x224, 10 classes), exported
as an edgekit reference, then converted to fp32 TFLite, ONNX and TF.js with edgekit's runner, one
format at a time, so each conversion's worker process is measured alone: its wall time
(JobOutcome.seconds) and its peak RSS, the worker's own (JobOutcome.peak_rss_bytes) or, when larger,
that of the worker and the processes it starts together (ONNX export freezes large models in a
process of its own), sampled from /proc 20 times a second. Run with:
    EDGEKIT_RECORD_FIGURES=1 flock /tmp/helpers/heavy.lock \
        uv run --locked pytest tests/perf/test_size_sweep.py -m perf -s
The largest models need many GB of memory. Settings (environment):
    EDGEKIT_SWEEP_MODELS       ids to run, comma-separated (default: all of MODELS)
    EDGEKIT_SWEEP_REFERENCES   a folder to keep the references in and reuse them from (default: a temporary one)
    EDGEKIT_SWEEP_MEMORY_LIMIT the workers' memory limit, as convert.memory_limit reads it (default: auto)
With EDGEKIT_RECORD_FIGURES=1 the table (docs/snippets/size-sweep.md) and the plot
(docs/img/size-sweep.svg) are rewritten after every model, so an interrupted sweep leaves the
sizes it finished. A failed conversion is a row of the table, and fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from line_chart import Panel, Series, stacked_line_charts

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "snippets" / "size-sweep.md"
PLOT = ROOT / "docs" / "img" / "size-sweep.svg"
FORMATS = ("tflite", "onnx", "tfjs")
GIB, MIB = 1024**3, 1024**2
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.05


@dataclass(frozen=True)
class Model:
    id: str
    label: str
    application: str  # the tf_keras.applications function
    kwargs: tuple[tuple[str, float], ...] = ()


MODELS = (
    Model("mobilenetv3small-0.75", "MobileNetV3Small α=0.75", "MobileNetV3Small", (("alpha", 0.75),)),
    Model("mobilenetv2", "MobileNetV2", "MobileNetV2"),
    Model("efficientnetb0", "EfficientNetB0", "EfficientNetB0"),
    Model("densenet121", "DenseNet121", "DenseNet121"),
    Model("resnet50", "ResNet50", "ResNet50"),
    Model("resnet101", "ResNet101", "ResNet101"),
    Model("resnet152", "ResNet152", "ResNet152"),
    Model("vgg19", "VGG19", "VGG19"),
)

BUILD = """
import ast, sys
from pathlib import Path
import tf_keras
from edgekit.train.export import export_reference
from edgekit.train.preprocess import Preprocessing
application, out, kwargs = sys.argv[1], Path(sys.argv[2]), dict(ast.literal_eval(sys.argv[3]))
model = getattr(tf_keras.applications, application)(
    weights=None, input_shape=(224, 224, 3), classes=10, **kwargs
)
export_reference(model, out / "reference", Preprocessing((224, 224)), tuple(f"c{i}" for i in range(10)))
(out / "params.txt").write_text(str(model.count_params()))
"""


@dataclass
class Measured:
    model: Model
    params: int
    weight_bytes: int
    outcomes: dict[str, tuple[float | None, int | None, str | None]] = field(default_factory=dict)


def _reference(model: Model, cache: Path) -> tuple[Path, int, int]:
    """The model's reference folder (built in its own process, or reused), its parameters and weight bytes."""
    folder = cache / model.id
    if not (folder / "params.txt").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        proc = subprocess.run(
            [sys.executable, "-c", BUILD, model.application, str(folder), repr(model.kwargs)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    reference = folder / "reference"
    weights = sum(p.stat().st_size for p in (reference / "saved_model" / "variables").iterdir())
    return reference, int((folder / "params.txt").read_text()), weights


def _tree_rss() -> int:
    """Resident bytes of this process's descendants together (the conversion worker and any process
    it starts, such as ONNX export's freezing process for large models), multiprocessing's resource
    tracker left out."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        try:
            if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        todo.extend(children.get(pid, []))
    return total


class _TreePeak:
    """The largest _tree_rss() seen while the block runs, read SAMPLE_S apart in a thread."""

    def __enter__(self) -> _TreePeak:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak = max(self.peak, _tree_rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _convert(reference: Path, out: Path, memory_limit: int | None) -> dict:
    """Each format by itself (its own run_jobs call, so its worker has ended before the next starts):
    seconds, peak RSS (the worker's own peak, or its processes' together when larger) and error."""
    from edgekit.convert.runner import ConvertJob, JobOutcome, run_jobs

    results = {}
    for fmt in FORMATS:
        outcomes: list[JobOutcome] = []
        with _TreePeak() as tree:
            run_jobs([ConvertJob(fmt, "fp32", reference, out / fmt)], False, outcomes.append, memory_limit)
        [o] = outcomes
        peak = max(o.peak_rss_bytes or 0, tree.peak) or None
        print(
            f"  {fmt}: worker's peak {(o.peak_rss_bytes or 0) / GIB:.2f} GiB, with its children {tree.peak / GIB:.2f} GiB"
        )
        error = None if o.artifact else (o.error or "no artifact").replace(str(reference), "the reference")
        results[fmt] = (o.seconds, peak, error)
    return results


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "/").split())[:160]


def table(rows: list[Measured], conditions: str) -> str:
    lines = [
        "| model | parameters | weights | format | seconds | peak RSS |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for m in rows:
        for fmt in FORMATS:
            seconds, peak, error = m.outcomes.get(fmt, (None, None, "not run"))
            if error:
                shown_s, shown_rss = "—", f"**failed**: {_cell(error)}"
            else:
                shown_s, shown_rss = f"{seconds:.1f} s", f"{peak / GIB:.2f} GiB"
            lines.append(
                f"| {m.model.label} | {m.params / 1e6:.1f} M | {m.weight_bytes / MIB:.1f} MiB | {fmt} "
                f"| {shown_s} | {shown_rss} |"
            )
    return "\n".join(lines) + f"\n\n{conditions}\n"


def plot(rows: list[Measured], conditions: str) -> str:
    def series(index: int, scale: float) -> list[Series]:
        return [
            Series(
                fmt,
                [
                    (m.params / 1e6, m.outcomes[fmt][index] / scale)
                    for m in rows
                    if fmt in m.outcomes and not m.outcomes[fmt][2]
                ],
            )
            for fmt in FORMATS
        ]

    failed = [f"{m.model.label} {fmt}" for m in rows for fmt, o in m.outcomes.items() if o[2]]
    return stacked_line_charts(
        "fp32 conversion by model size, one process per format",
        "parameters (millions)",
        [
            Panel("Conversion time", "seconds", series(0, 1.0)),
            Panel("Peak RSS of the conversion process", "GiB", series(1, GIB)),
        ],
        [(m.params / 1e6, m.model.label) for m in rows],
        [conditions] + ([f"Failed (not plotted): {', '.join(failed)}."] if failed else []),
    )


@pytest.mark.perf
def test_conversion_time_and_memory_by_model_size(tmp_path):
    from edgekit.convert.memory import format_bytes, parse_memory_limit

    wanted = os.environ.get("EDGEKIT_SWEEP_MODELS")
    models = [m for m in MODELS if not wanted or m.id in wanted.split(",")]
    assert models, f"EDGEKIT_SWEEP_MODELS names none of {', '.join(m.id for m in MODELS)}"
    cache = Path(os.environ.get("EDGEKIT_SWEEP_REFERENCES") or tmp_path / "references")
    memory_limit = parse_memory_limit(os.environ.get("EDGEKIT_SWEEP_MEMORY_LIMIT", "auto"))
    record = os.environ.get("EDGEKIT_RECORD_FIGURES") == "1"
    load_start = _load()
    rows: list[Measured] = []
    for model in models:
        reference, params, weights = _reference(model, cache)
        measured = Measured(model, params, weights, _convert(reference, tmp_path / model.id, memory_limit))
        shutil.rmtree(tmp_path / model.id, ignore_errors=True)
        rows.append(measured)
        for fmt, (seconds, peak, error) in measured.outcomes.items():
            print(
                f"{model.label:32} {params / 1e6:7.1f} M {fmt:7}"
                + (f" FAILED: {error}" if error else f" {seconds:7.1f} s {peak / GIB:6.2f} GiB")
            )
        conditions = (
            f"fp32, each format in its own process, one at a time; {os.cpu_count()} CPUs; "
            f"load average (1/5/15 min) {load_start} at the start, {_load()} at the end; "
            f"memory limit {format_bytes(memory_limit) if memory_limit else 'none'}."
        )
        if record:
            TABLE.write_text(table(rows, conditions))
            PLOT.write_text(plot(rows, conditions))
    for m in rows:
        assert set(m.outcomes) == set(FORMATS), m.model.label
        assert m.params > 0 and m.weight_bytes > 0
        for fmt, (seconds, peak, error) in m.outcomes.items():
            assert error is None, f"{m.model.label} {fmt}: {error}"
            assert seconds and seconds > 0 and peak and peak > 0, (m.model.label, fmt)


def test_the_sweep_table_and_plot_show_every_row_and_failure():
    """The writers alone, on made-up figures (fast, in the default run)."""
    rows = [
        Measured(
            MODELS[0],
            1_036_802,
            4_300_000,
            {f: (5.0 + i, (1 + i) * GIB, None) for i, f in enumerate(FORMATS)},
        ),
        Measured(
            MODELS[-1],
            139_611_210,
            558_000_000,
            {"tflite": (60.0, 5 * GIB, None), "tfjs": (40.0, 3 * GIB, None)},
        ),
    ]
    rows[-1].outcomes["onnx"] = (None, None, "ran over the memory limit | 16.00 GiB\n  (stopped)")
    text = table(rows, "load 1.0")
    assert (
        text.count("\n| ") == 6 and "| VGG19 | 139.6 M | 532.2 MiB | onnx | — | **failed**: ran over" in text
    )
    svg = ET.fromstring(plot(rows, "load 1.0"))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f".//{ns}polyline")) == 4  # two panels; onnx has one point left: no line
    assert len(svg.findall(f".//{ns}circle")) == 2 * 5 + len(FORMATS)  # the points, and the legend's
    assert any("Failed (not plotted): VGG19 onnx" in (t.text or "") for t in svg.iter(f"{ns}text"))
