"""A format registered inside a test flows through the whole run with no edit to edgekit.

The toy format (tests/toy_format.py) is one FormatPlugin and one RuntimePlugin. The demo recipe,
narrowed to it with --format, plans it (matrix), converts it, checks its parity against the
reference, measures it in a bench worker process, reports it, and bundles it. Nothing in edgekit
names it; everything asks the registries.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tiny_models import TINY_CLASSES, TINY_SIZE, tiny_images

TESTS = Path(__file__).resolve().parent
DEMO = TESTS.parent / "recipes" / "demo.yaml"
SETS = ["bench.min_runs=5", "bench.min_time_s=0.05", "bench.warmup_runs=1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy format and runtime, registered here and for the worker processes, removed afterwards."""
    import toy_format

    from edgekit.convert import FORMATS
    from edgekit.runtimes import RUNTIMES

    before = (FORMATS.names(), RUNTIMES.names())
    toy_format.register()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEKIT_PLUGINS", toy_format.PLUGIN_REF)
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))
        mp.setenv("EDGEKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        try:
            yield toy_format
        finally:
            toy_format.unregister()
    assert (FORMATS.names(), RUNTIMES.names()) == before  # other tests see the registries as they were


@pytest.fixture(scope="module")
def toy_run(toy, tiny_reference, tmp_path_factory):
    """The demo recipe narrowed to the toy format, run by the pipeline's own steps after training
    (the reference is the tiny test model, placed where the train step puts it)."""
    from edgekit import stages
    from edgekit.pipeline import ConvertOptions, open_run, planned_rows
    from edgekit.reuse import link_tree
    from edgekit.train.data import Splits
    from edgekit.train.labelled import LabelledData
    from edgekit.train.preprocess import Preprocessing

    opts = ConvertOptions(
        DEMO, "host", formats=[toy.FORMAT], out=tmp_path_factory.mktemp("out"), overrides=SETS
    )
    ctx = open_run(opts)
    link_tree(tiny_reference, ctx.run_dir / "reference")
    reference = stages.Reference(ctx.run_dir / "reference", "tiny-reference", 0.5, list(TINY_CLASSES))
    rng = np.random.default_rng(0)
    sets = [tiny_images(n, seed=i) for i, n in enumerate((60, 8, 24))]
    labelled = [
        LabelledData((x * 255).astype(np.uint8), rng.integers(0, 3, len(x)), TINY_CLASSES) for x in sets
    ]
    data = stages.PreparedData.of_arrays(
        Splits(*labelled), Preprocessing(TINY_SIZE), (*sets, sets[0]), "tiny-images"
    )
    source = SimpleNamespace(spec="tiny", canonical="tiny", sha256="0" * 64, notes=[], manifest=None)

    rows = stages.convert_step(ctx, reference, data, planned_rows(ctx.profile, opts))
    stages.parity_step(ctx, reference, data, rows)
    stages.bench_step(ctx, data, rows)
    stages.estimate_step(ctx, reference, rows)
    stages.report_step(ctx, source, reference, rows)
    return ctx.run_dir


def test_the_toy_format_is_planned_converted_checked_measured_and_reported(toy, toy_run):
    run = toy_run
    report = json.loads((run / "report.json").read_text())
    (row,) = report["artifacts"]  # the matrix holds the toy format's one declared mode
    assert (row["format"], row["quant"], row["status"]) == (toy.FORMAT, "fp32", "ok")
    assert (
        row["artifact"]["path"] == toy.MODEL_FILE
        and (run / "artifacts" / "npyfmt-fp32" / "model.npz").is_file()
    )
    parity = row["parity"]
    assert parity["verdict"] in ("pass", "warn", "fail") and parity["samples"] > 0
    assert 0.0 <= parity["top1_agreement"] <= 1.0 and parity["max_abs_err"] >= 0.0
    bench = row["bench"]  # measured in a fresh worker process, which loaded the plugin itself
    assert bench["status"] == "ok" and bench["runtime"]["runtime"] == toy.RUNTIME
    assert bench["runs"] >= 5 and bench["p50_ms"] > 0
    # No graph reader: the estimate says why there is none instead of failing the row.
    assert row["estimate"] is None and any("no estimate" in n and "graph reader" in n for n in row["notes"])
    assert "npyfmt" in (run / "report.md").read_text() and "npyfmt" in (run / "report.html").read_text()


def test_the_toy_artifact_is_bundled_and_verifies(toy, toy_run, tmp_path):
    from edgekit.bundle.build import write_bundle
    from edgekit.bundle.verify import verify_bundle

    run = toy_run
    path = write_bundle(run, tmp_path / "toy.tar.gz", names=["npyfmt-fp32"])
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        manifest = json.load(io.BytesIO(tar.extractfile("manifest.json").read()))
    assert {"artifacts/npyfmt-fp32/model.npz", "artifacts/npyfmt-fp32/artifact.json", "SHA256SUMS"} <= names
    assert not any(n.startswith("firmware/") for n in names)  # the toy declares no C array
    (entry,) = manifest["artifacts"]
    assert entry["format"] == toy.FORMAT and entry["c_array"] is None and entry["parity"]["verdict"]
    assert verify_bundle(path).problems == []


def test_a_bare_toy_file_is_recognised_by_its_suffix(toy, toy_run):
    from edgekit.bench.targets import expand

    run = toy_run
    (target,) = expand([run / "artifacts" / "npyfmt-fp32" / "model.npz"])
    assert (target.kind, target.format) == ("file", toy.FORMAT)


@pytest.mark.slow
def test_the_demo_pipeline_narrowed_to_the_toy_format(toy, tmp_path):
    """The same through `edgekit convert --format npyfmt`: source, data and training included."""
    from edgekit.cli import main

    tiny = [
        "data.num_images=160",
        "train.epochs=2",
        "train.fine_tune.epochs=1",
        "quantize.calibration_samples=60",
    ]
    args = [a for s in tiny + SETS for a in ("--set", s)]
    assert main(["convert", "--target", "host", "--format", toy.FORMAT, "--out", str(tmp_path), *args]) == 0
    report = json.loads((tmp_path / "demo" / "host" / "report.json").read_text())
    (row,) = report["artifacts"]
    assert row["format"] == toy.FORMAT and row["status"] == "ok"
    assert row["parity"]["verdict"] in ("pass", "warn", "fail") and row["bench"]["status"] == "ok"
