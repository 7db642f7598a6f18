"""The demo path end to end on a tiny configuration: source → train → convert → parity → bench → report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cpu_hogs import start_cpu_hogs, stop_cpu_hogs
from demo_settings import tiny_demo

from edgekit.cli import main

HERE = Path(__file__).resolve().parent

TINY = tiny_demo(epochs=2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("EDGEKIT_CACHE")
    os.environ["EDGEKIT_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("EDGEKIT_CACHE", None)
    else:
        os.environ["EDGEKIT_CACHE"] = old


@pytest.fixture(scope="module")
def demo_run(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    rc = main(["convert", "--target", "rpi", "--out", str(out), *TINY])
    return rc, out / "demo" / "rpi4"


def test_demo_run_succeeds_and_writes_the_run_directory(demo_run):
    rc, run_dir = demo_run
    assert rc == 0
    for rel in (
        "reference/saved_model/saved_model.pb",
        "reference/labels.txt",
        "reference/preprocessing.json",
        "artifacts/tflite-fp32/model.tflite",
        "artifacts/tflite-int8/model.tflite",
        "report.json",
        "report.md",
    ):
        assert (run_dir / rel).exists(), rel


def test_report_has_parity_accuracy_and_latency_per_artifact(demo_run):
    _, run_dir = demo_run
    report = json.loads((run_dir / "report.json").read_text())
    assert (
        report["schema_version"] == 1
        and report["target"]["name"] == "rpi4"
        and report["target"]["threads"] == 4
    )
    rows = {(a["format"], a["quant"]): a for a in report["artifacts"]}
    assert set(rows) == {("tflite", "fp32"), ("tflite", "int8")}
    for row in rows.values():
        assert row["status"] == "ok"
        assert 0.0 <= row["parity"]["top1_agreement"] <= 1.0 and row["parity"]["max_abs_err"] >= 0
        assert row["parity"]["accuracy"] is not None
        assert row["bench"]["p50_ms"] > 0 and row["bench"]["runs"] >= 5
        assert row["bench"]["runtime"]["threads"] == 4
    assert rows[("tflite", "fp32")]["parity"]["max_abs_err"] < 1e-4
    int8 = rows[("tflite", "int8")]["artifact"]
    assert int8["inputs"][0]["dtype"] == "int8" and int8["inputs"][0]["scale"] > 0
    assert int8["metadata"]["calibration_samples"] == 60
    md = (run_dir / "report.md").read_text()
    assert "| tflite | int8 |" in md


def test_rerun_skips_unchanged_steps(demo_run, capsys):
    rc, run_dir = demo_run
    before = (run_dir / "artifacts/tflite-int8/model.tflite").stat().st_mtime_ns
    assert main(["convert", "--target", "rpi4", "--out", str(run_dir.parent.parent), *TINY]) == 0
    assert "unchanged, reused" in capsys.readouterr().err
    assert (run_dir / "artifacts/tflite-int8/model.tflite").stat().st_mtime_ns == before


def test_rerun_reuses_measurements_and_remeasure_measures_again(demo_run, capsys):
    _, run_dir = demo_run
    argv = ["convert", "--target", "rpi4", "--out", str(run_dir.parent.parent), *TINY]
    assert main(argv) == 0
    assert "0 of 0 artifact(s) measured, 4 thread(s); 2 unchanged, reused" in capsys.readouterr().err
    record = run_dir / "steps" / "bench-tflite-fp32.json"
    before = json.loads(record.read_text())
    report = json.loads((run_dir / "report.json").read_text())
    assert report["artifacts"][0]["bench"] == before["bench"]  # the report shows the recorded measurement
    assert main([*argv, "--remeasure"]) == 0
    assert "2 of 2 artifact(s) measured" in capsys.readouterr().err
    assert json.loads(record.read_text())["finished"] > before["finished"]


def test_rerun_reuses_parity_and_redoes_it_when_thresholds_change(demo_run, monkeypatch):
    import edgekit.convert.parity as parity

    rc, run_dir = demo_run
    before = json.loads((run_dir / "report.json").read_text())
    calls = []
    real = parity.compare
    monkeypatch.setattr(parity, "compare", lambda *a, **k: (calls.append(a[3]), real(*a, **k))[1])
    argv = ["convert", "--target", "rpi4", "--out", str(run_dir.parent.parent), *TINY]
    assert main(argv) == 0 and calls == []  # nothing changed: both parity results come from the step records
    after = json.loads((run_dir / "report.json").read_text())
    assert [a["parity"] for a in after["artifacts"]] == [a["parity"] for a in before["artifacts"]]
    assert main([*argv, "--set", "parity.thresholds.int8.min_top1=0.5"]) == 0
    assert calls == ["int8"]  # only the row whose thresholds changed is compared again


def test_unsupported_request_is_a_visible_row(cache, tmp_path):
    rc = main(
        ["convert", "--target", "rpi", "--out", str(tmp_path), *TINY, "--quant", "fp32", "--quant", "uint8"]
    )
    report = json.loads((tmp_path / "demo/rpi4/report.json").read_text())
    rows = {a["quant"]: a for a in report["artifacts"]}
    assert rows["fp32"]["status"] == "ok" and rows["uint8"]["status"] == "skipped"
    assert "tflite has no quant mode uint8" in rows["uint8"]["error"]
    assert rc == 0


def test_a_failing_converter_becomes_a_failed_row_and_exit_1(cache, tmp_path, monkeypatch):
    import broken_converter

    from edgekit.convert import FORMATS

    # conversions run in worker processes: the broken converter is loaded there as a plugin
    monkeypatch.setenv("EDGEKIT_PLUGINS", broken_converter.PLUGIN_REF)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, (str(HERE), os.environ.get("PYTHONPATH")))))
    monkeypatch.setitem(FORMATS._entries, "tflite", FORMATS.entry("tflite"))  # restored if loaded here too
    rc = main(["convert", "--target", "rpi", "--out", str(tmp_path), *TINY])
    report = json.loads((tmp_path / "demo/rpi4/report.json").read_text())
    rows = {a["quant"]: a for a in report["artifacts"]}
    assert rows["fp32"]["status"] == "ok" and rows["fp32"]["bench"]["p50_ms"] > 0
    assert rows["int8"]["status"] == "failed" and broken_converter.MESSAGE in rows["int8"]["error"]
    assert (tmp_path / "demo/rpi4/logs/tflite-int8.txt").is_file()
    assert not (tmp_path / "demo/rpi4/artifacts/tflite-int8").exists()
    assert rc == 1


@pytest.fixture
def cpu_hog():
    """start() runs two busy processes until the test ends: interruption must not need an idle machine."""
    hogs: list[subprocess.Popen] = []
    yield lambda: hogs.extend(start_cpu_hogs(2))
    stop_cpu_hogs(hogs)


def test_ctrl_c_exits_130_and_leaves_nothing_half_written(cache, tmp_path, cpu_hog):
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgekit", "convert", "--target", "rpi", "--out", str(tmp_path), *TINY],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "EDGEKIT_CACHE": str(cache)},
    )
    trained, seen = threading.Event(), threading.Event()
    lines: list[str] = []

    def watch():
        for line in proc.stderr:
            lines.append(line)
            if "✓ train" in line:  # conversion starts: from here on the machine is loaded
                trained.set()
            if "[1/2]" in line:  # the first artifact is written, the second is being converted
                seen.set()

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    assert trained.wait(600), "".join(lines)
    cpu_hog()  # the hogs load conversion, the signal's delivery and the shutdown, not the training before
    assert seen.wait(600), "".join(lines)  # generous: the machine is busy on purpose
    proc.send_signal(signal.SIGINT)
    assert proc.wait(300) == 130, "".join(lines)
    reader.join(60)
    run_dir = tmp_path / "demo" / "rpi4"
    leftovers = [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for folder in (run_dir / "artifacts").iterdir():
        assert (folder / "artifact.json").is_file(), f"{folder} has no artifact.json"
    assert not (run_dir / "report.json").exists()
