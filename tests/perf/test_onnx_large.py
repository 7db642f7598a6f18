"""An ONNX model over 2 GiB end to end: every quant mode, the artifact record, bench, bundle + verify.

The fp32 model (a MatMul chain, 2.3 GiB of float32 weights) is written the way the export writes a
model beyond the protobuf limit: fp32.onnx plus fp32.onnx.data beside it, built tensor by tensor
so the test itself never holds the whole model. Each quant mode then runs through edgekit's own
conversion (quantize, metadata, checker, ONNX Runtime verification, atomic write) in this process,
timed and with its peak RSS (the modes share one export, as in a conversion worker); the fp32 artifact is benchmarked in a bench worker and bundled and
verified. Heavy (several GB of memory and disk): run it alone, under the shared lock:
    flock /tmp/helpers/heavy.lock uv run pytest tests/perf/test_onnx_large.py -m perf -s
(figures go to docs/snippets/onnx-large-figures.md only with EDGEKIT_RECORD_FIGURES=1).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))  # synthetic.py: run folders in code

pytestmark = pytest.mark.perf

WIDTH, HIDDEN_LAYERS = 8192, 9  # 9 x 8192 x 8192 float32 = 2.25 GiB, plus the first and last layers
INPUT = (1, 4, 4, 3)
CLASSES = ["circle", "square", "triangle"]
MODES = ("fp32", "fp16", "dynamic-int8", "int8")
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "onnx-large-figures.md"
GIB = 1024**3


def _write_large_model(out: Path, x: np.ndarray) -> tuple[int, np.ndarray]:
    """fp32.onnx + fp32.onnx.data, one tensor at a time; returns the weight bytes and the float64
    reference outputs for X computed along the way."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    shapes = [(48, WIDTH), *[(WIDTH, WIDTH)] * HIDDEN_LAYERS, (WIDTH, len(CLASSES))]
    data = out.with_name(out.name + ".data")
    initializers, nodes, offset = [], [helper.make_node("Flatten", ["image"], ["a0"])], 0
    h = x.reshape(len(x), -1).astype(np.float64)
    with open(data, "wb") as fh:
        for i, (rows, cols) in enumerate(shapes):
            w = rng.standard_normal((rows, cols), dtype=np.float32)
            w *= np.float32(np.sqrt(2.0 / rows))
            raw = w.tobytes()
            fh.write(raw)
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[rows, cols])
            t.data_location = TensorProto.EXTERNAL
            for key, value in (("location", data.name), ("offset", offset), ("length", len(raw))):
                entry = t.external_data.add()
                entry.key, entry.value = key, str(value)
            initializers.append(t)
            offset += len(raw)
            h = h @ w.astype(np.float64)
            last = i == len(shapes) - 1
            nodes.append(helper.make_node("MatMul", [f"a{i}", f"w{i}"], [f"m{i}"]))
            if last:
                nodes.append(helper.make_node("Softmax", [f"m{i}"], ["probabilities"]))
            else:
                h = np.maximum(h, 0)
                nodes.append(helper.make_node("Relu", [f"m{i}"], [f"a{i + 1}"]))
            del w, raw
    graph = helper.make_graph(
        nodes,
        "large",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(INPUT))],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, len(CLASSES)])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(out))
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return offset, e / e.sum(axis=1, keepdims=True)


def _files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.suffix in (".onnx", ".data")}


def test_an_onnx_model_over_2_gib_converts_runs_and_bundles(tmp_path, monkeypatch):
    from edgekit.bench.measure import Protocol
    from edgekit.bench.runner import bench_target
    from edgekit.bench.targets import BenchTarget
    from edgekit.bundle.build import write_bundle
    from edgekit.bundle.verify import verify_bundle
    from edgekit.convert import onnx_external, onnx_fp32_memo
    from edgekit.convert.memory import peak_bytes, reset_peak
    from edgekit.convert.runner import ConvertJob, run_job
    from edgekit.runtimes.onnxruntime import load_onnx

    x = np.random.default_rng(1).random((4, *INPUT[1:]), dtype=np.float32)
    exported = tmp_path / "export" / "fp32.onnx"
    exported.parent.mkdir()
    start = time.perf_counter()
    weight_bytes, expected = _write_large_model(exported, x)
    build_s = time.perf_counter() - start
    assert weight_bytes > 2 * GIB

    def export(saved_model, opset, out, warnings):  # the export's output: out + out.name + ".data"
        # copied, not linked: onnx refuses external data files with several hard links
        shutil.copyfile(exported, out)
        shutil.copyfile(exported.with_name(exported.name + ".data"), out.with_name(out.name + ".data"))
        return out

    monkeypatch.setattr(onnx_fp32_memo, "export_fp32", export)
    monkeypatch.setattr(onnx_fp32_memo, "_exports", {})
    run = tmp_path / "run"
    reference = run / "reference"
    reference.mkdir(parents=True)
    (reference / "labels.txt").write_text("\n".join(CLASSES) + "\n")

    rows, artifacts = [], {}
    for mode in MODES:
        reset_peak()
        start = time.perf_counter()
        job = ConvertJob("onnx", mode, reference, run / "artifacts" / f"onnx-{mode}", calibration=x)
        a = artifacts[mode] = run_job(job)
        seconds, peak = time.perf_counter() - start, peak_bytes() or 0
        files = _files(a.folder)
        data = a.metadata.get("external_data", [])
        assert sorted(files) == sorted(["model.onnx", *data])
        assert a.size_bytes == sum(files.values())
        if data:
            assert a.sha256 == onnx_external.files_sha256(a.folder, [a.path.name, *data])
        session = load_onnx(a, 1)
        got = session.predict(x)
        session.close()
        err = float(np.abs(got - expected).max())
        agree = float(np.mean(got.argmax(1) == expected.argmax(1)))
        rows.append((mode, a.size_bytes, data, seconds, peak, err, agree))
        print(
            f"\nonnx {mode}: {a.size_bytes / GIB:.2f} GiB in {', '.join(files)}; {seconds:.1f} s, "
            f"peak RSS {peak / GIB:.2f} GiB; max |err| {err:.2g}, top-1 agreement {agree:.2f}"
        )
    assert artifacts["fp32"].metadata["external_data"] == ["model.onnx.data"]
    assert rows[0][5] < 1e-4 and rows[1][5] < 1e-2  # fp32, fp16 against the float64 reference

    protocol = Protocol(threads=2, warmup_runs=1, min_runs=5, min_time_s=0.0)
    bench = bench_target(BenchTarget("artifact-dir", artifacts["fp32"].folder, "onnx"), protocol)
    assert bench["status"] == "ok", bench
    print(f"\nbench fp32: load {bench['load_ms'] / 1000:.1f} s, p50 {bench['p50_ms']:.1f} ms")

    import synthetic  # tests/report/synthetic.py, on the path as in tests/bundle/conftest.py

    report_rows = []
    for mode in ("fp32", "fp16"):
        row = synthetic.artifact_row("onnx", mode, b"", 1.0, 0.9)
        row["artifact"] = artifacts[mode].to_dict()
        report_rows.append(row)
    report = synthetic.make_report(report_rows)
    report["reference"]["classes"] = CLASSES
    (run / "report.json").write_text(json.dumps(report))
    reset_peak()
    start = time.perf_counter()
    bundle = write_bundle(run, tmp_path / "large.bundle.tar.gz")
    bundle_s, bundle_peak = time.perf_counter() - start, peak_bytes() or 0
    reset_peak()
    start = time.perf_counter()
    verified = verify_bundle(bundle)
    verify_s, verify_peak = time.perf_counter() - start, peak_bytes() or 0
    assert not verified.problems
    artifacts_gib = sum(artifacts[m].size_bytes for m in ("fp32", "fp16")) / GIB
    print(
        f"\nbundle fp32+fp16 ({artifacts_gib:.2f} GiB of artifacts): {bundle.stat().st_size / GIB:.2f} GiB "
        f"in {bundle_s:.0f} s (peak RSS {bundle_peak / GIB:.2f} GiB); verify {verify_s:.0f} s "
        f"(peak RSS {verify_peak / GIB:.2f} GiB), {verified.files} files"
    )
    shutil.rmtree(tmp_path / "export")

    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        load = os.getloadavg()[0]
        FIGURES.write_text(
            f"A MatMul chain with {weight_bytes / GIB:.2f} GiB of float32 weights, exported as "
            f"fp32.onnx + fp32.onnx.data (built in {build_s:.0f} s), converted in each mode by edgekit "
            "(quantization, metadata, checker, ONNX Runtime verification, atomic write):\n\n"
            "| mode | artifact | files | time | peak RSS | max abs error |\n|---|---|---|---|---|---|\n"
            + "".join(
                f"| {mode} | {size / GIB:.2f} GiB | {' + '.join(['model.onnx', *data])} | {s:.0f} s | "
                f"{peak / GIB:.1f} GiB | {err:.1e} |\n"
                for mode, size, data, s, peak, err, _ in rows
            )
            + f"\nONNX Runtime bench of the fp32 artifact (loaded from its path, data file beside it): "
            f"load {bench['load_ms'] / 1000:.1f} s, median {bench['p50_ms']:.0f} ms per run on 2 threads. "
            f"Bundle of the fp32 and fp16 artifacts ({artifacts_gib:.2f} GiB): "
            f"{bundle.stat().st_size / GIB:.2f} GiB written in {bundle_s:.0f} s (peak RSS "
            f"{bundle_peak / GIB:.1f} GiB), verified in {verify_s:.0f} s (peak RSS {verify_peak / GIB:.1f} GiB). "
            f"Load average {load:.1f} at the end of the measurement.\n"
        )
