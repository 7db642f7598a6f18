"""`edgekit convert MODEL`: models trained outside edgekit converted, checked and benched, no training step.

The models are Keras 3 models built and trained here (the way a user trains one), saved as a .keras
file and exported as a SavedModel. The task is easy (which colour channel is brightest) so a few
epochs learn it and the reference's accuracy on labelled data is a real, better-than-chance figure.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from edgekit.cli import main

SIZE = 16
CLASSES = 3
FAST = [
    "--format",
    "tflite",
    "--threads",
    "1",
    "--set",
    "bench.min_runs=3",
    "--set",
    "bench.min_time_s=0.02",
    "--set",
    "bench.warmup_runs=1",
]


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [n, 16, 16, 3]: class c has its colour channel c brightest."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % CLASSES
    x = rng.integers(0, 110, (n, SIZE, SIZE, 3))
    x[np.arange(n), :, :, labels] += 140
    return x.astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Classifiers trained outside edgekit and saved the ways users save them: a Keras 3 model as a
    .keras file and with model.export(), a tf_keras model as a SavedModel folder."""
    import keras
    import tf_keras

    x_train, y_train = _images(96, seed=1)
    x_train = x_train.astype(np.float32) / 255.0
    folder = tmp_path_factory.mktemp("trained")
    for lib in (keras, tf_keras):
        lib.utils.set_random_seed(0)
        inputs = lib.Input((SIZE, SIZE, 3))
        x = lib.layers.Conv2D(4, 3, activation="relu")(inputs)
        x = lib.layers.GlobalAveragePooling2D()(x)
        model = lib.Model(inputs, lib.layers.Dense(CLASSES, activation="softmax")(x))
        model.compile(lib.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
        model.fit(x_train, y_train, epochs=8, batch_size=16, verbose=0)
        if lib is keras:
            model.save(folder / "model.keras")
            model.export(str(folder / "keras3-export"), verbose=False)
        else:
            model.save(str(folder / "saved"))  # tf_keras: a folder path is a SavedModel
    return {
        "keras": folder / "model.keras",
        "keras3_export": folder / "keras3-export",
        "saved_model": folder / "saved",
    }


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> dict[str, Path]:
    """The same labelled images as an .npz (x, y) and as a folder of class subfolders of PNGs."""
    import tensorflow as tf

    x, y = _images(48, seed=2)
    folder = tmp_path_factory.mktemp("data")
    np.savez(folder / "data.npz", x=x, y=y)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        class_dir = folder / "images" / f"c{label}"  # sorted names c0, c1, c2: the model's output order
        class_dir.mkdir(parents=True, exist_ok=True)
        (class_dir / f"{i:03d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return {"npz": folder / "data.npz", "folder": folder / "images"}


@pytest.fixture(autouse=True, scope="module")
def _own_cache(tmp_path_factory):
    old = os.environ.get("EDGEKIT_CACHE")
    os.environ["EDGEKIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("EDGEKIT_CACHE", None)
    else:
        os.environ["EDGEKIT_CACHE"] = old


def _records(run_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / "steps").glob("*.json")}


def _report(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


@pytest.fixture(scope="module")
def saved_model_run(models, labelled, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    args = ["convert", str(models["saved_model"]), "--target", "host,rpi4", "--data", str(labelled["npz"])]
    rc = main([*args, "--out", str(out), *FAST, "--quant", "fp32", "--quant", "int8"])
    return rc, out / "saved", args + ["--out", str(out), *FAST, "--quant", "fp32", "--quant", "int8"]


def test_saved_model_converted_checked_and_benched_for_two_targets_without_training(saved_model_run):
    rc, recipe_dir, _ = saved_model_run
    assert rc == 0
    host, rpi4 = recipe_dir / "host", recipe_dir / "rpi4"
    for run in (host, rpi4):
        records = _records(run)
        assert "train" not in records and not (run / "train").exists()  # nothing was trained
        report = _report(run)
        rows = {a["quant"]: a for a in report["artifacts"]}
        assert set(rows) == {"fp32", "int8"}
        for row in rows.values():
            assert row["status"] == "ok", row
            assert row["parity"]["verdict"] in ("pass", "warn") and row["parity"]["samples"] == 24
            assert row["bench"]["p50_ms"] > 0
            assert row["estimate"] is not None
        assert rows["fp32"]["parity"]["verdict"] == "pass"
        assert report["model"]["kind"] == "saved_model" and report["model"]["inputs"]["labelled"] is True
        assert report["model"]["inputs"]["calibration_images"] == 24
        # labels given: the reference's accuracy is measured on them, and the model learned the task
        assert report["reference"]["test_accuracy"] > 0.8 and not report["reference"]["health"]["flags"]
        assert "labelled parity images" in (run / "report.md").read_text()
    # the reference is made once and taken by the second target; so is each artifact
    assert (
        _records(host)["reference"].get("made_here") and _records(rpi4)["reference"]["reused_from"] == "host"
    )
    assert _records(rpi4)["convert-tflite-int8"]["reused_from"] == "host"
    assert _report(host)["target"]["name"] == "host" and _report(rpi4)["target"]["name"] == "rpi4"
    assert (recipe_dir / "targets.json").is_file()


def test_a_rerun_skips_the_reference_conversions_and_parity(saved_model_run, capsys):
    rc, recipe_dir, args = saved_model_run
    assert rc == 0
    before = {name: rec["finished"] for name, rec in _records(recipe_dir / "host").items()}
    capsys.readouterr()
    targets_at = args.index("--target") + 1
    assert main([*args[:targets_at], "host", *args[targets_at + 1 :]]) == 0  # one target keeps it quick
    err = capsys.readouterr().err
    after = _records(recipe_dir / "host")
    for name in (
        "reference",
        "convert-tflite-fp32",
        "convert-tflite-int8",
        "parity-tflite-fp32",
        "parity-tflite-int8",
    ):
        assert after[name]["finished"] == before[name], name  # not redone: the record is the old one
    assert "unchanged, reused" in err
    assert not any(line.startswith("  [") and "converted" in line for line in err.splitlines())


def test_the_run_bundles_like_a_trained_run(saved_model_run, tmp_path):
    _, recipe_dir, _ = saved_model_run
    bundle = tmp_path / "b.tar.gz"
    assert main(["bundle", str(recipe_dir / "host"), "--out", str(bundle)]) == 0
    assert main(["verify", str(bundle)]) == 0


def test_keras_file_with_an_image_folder_for_two_targets(models, labelled, tmp_path):
    rc = main(
        [
            "convert",
            str(models["keras"]),
            "--target",
            "host,rpi4",
            "--data",
            str(labelled["folder"]),
            "--out",
            str(tmp_path),
            *FAST,
            "--quant",
            "fp32",
        ]
    )
    assert rc == 0
    for target in ("host", "rpi4"):
        run = tmp_path / "model" / target
        assert "train" not in _records(run)
        report = _report(run)
        (row,) = report["artifacts"]
        assert row["status"] == "ok" and row["parity"]["verdict"] == "pass" and row["bench"]["p50_ms"] > 0
        assert report["reference"]["classes"] == ["c0", "c1", "c2"]  # the class folders, in output order
        assert report["reference"]["test_accuracy"] > 0.8
        assert report["model"]["kind"] == "keras" and report["model"]["inputs"]["kind"] == "folder"
        assert (run / "reference" / "labels.txt").read_text().split() == ["c0", "c1", "c2"]


def test_without_data_full_integer_rows_are_skipped_and_parity_is_on_generated_inputs(
    models, tmp_path, capsys
):
    rc = main(
        ["convert", str(models["keras"]), "--out", str(tmp_path), *FAST, "--quant", "fp32", "--quant", "int8"]
    )
    assert rc == 0
    run = tmp_path / "model" / "host"
    report = _report(run)
    rows = {a["quant"]: a for a in report["artifacts"]}
    assert rows["int8"]["status"] == "skipped" and "--data" in rows["int8"]["error"]
    assert rows["fp32"]["status"] == "ok" and rows["fp32"]["parity"]["verdict"] == "pass"
    assert rows["fp32"]["parity"]["accuracy"] is None  # no labels: no accuracy figure at all
    assert report["reference"]["test_accuracy"] is None
    assert report["model"]["inputs"]["kind"] == "generated"
    assert "generated inputs" in (run / "report.md").read_text()
    assert "generated inputs" in capsys.readouterr().out  # the summary says so too


@contextlib.contextmanager
def _hub_server(archives: dict[str, bytes]) -> Iterator[str]:
    """A loopback stand-in for tfhub.dev: GET /<publisher>/<model>/<version>?tf-hub-format=compressed."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            body = archives.get(url.path) if "tf-hub-format=compressed" in url.query else None
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _tar_gz(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


@pytest.mark.slow  # a third conversion; the default run covers the SavedModel folder it serves
def test_a_hub_handle_of_a_complete_model_is_pulled_pinned_and_converted(models, tmp_path, monkeypatch):
    archive = _tar_gz(models["saved_model"])
    with _hub_server({"/google/tiny-classifier/1": archive}) as url:
        monkeypatch.setenv("EDGEKIT_HUB_URL", url)
        monkeypatch.chdir(tmp_path)  # the lockfile of a run without a recipe is ./edgekit.lock
        handle = "https://tfhub.dev/google/tiny-classifier/1"
        assert main(["convert", handle, "--out", str(tmp_path / "out"), *FAST, "--quant", "fp32"]) == 0
    report = _report(tmp_path / "out" / "tiny-classifier-1" / "host")
    assert report["source"]["canonical"] == "tfhub:google/tiny-classifier/1"
    assert report["model"]["kind"] == "handle" and report["source"]["manifest"]["scan"]
    (row,) = report["artifacts"]
    assert row["status"] == "ok" and row["parity"]["verdict"] == "pass"
    assert "tfhub:google/tiny-classifier" in (tmp_path / "edgekit.lock").read_text()  # pinned like any source


def test_a_keras3_export_passes_the_op_scan(models, tmp_path):
    args = ["convert", str(models["keras3_export"]), "--out", str(tmp_path), *FAST, "--quant", "fp32"]
    assert main(args) == 0


def _bad_keras(tmp: Path) -> Path:
    path = tmp / "broken.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps({"class_name": "Functional", "module": "keras", "config": {}}))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    return path


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "does not exist"),
        ("not_saved_model", "not a SavedModel"),
        ("bad_keras", "could not be loaded"),
        ("npz_without_x", "no array x"),
        ("shape_mismatch", "does not match"),
        ("npz_bad_channels", "expected images"),
        ("int8_without_data", "nothing to convert"),
        ("data_with_recipe", "only apply when converting a trained model"),
        ("bad_set", "no train section"),
        ("set_from_option", "takes source.input_size from --input-shape"),
        ("unsafe_override", "always scanned strictly"),
    ],
)
def test_user_errors_exit_2_and_write_nothing(case, expected, models, tmp_path, capsys):
    out = tmp_path / "out"
    keras_file = str(models["keras"])
    args = {
        "missing": ["convert", str(tmp_path / "nope.keras")],
        "not_saved_model": ["convert", str(tmp_path)],
        "bad_keras": ["convert", str(_bad_keras(tmp_path))],
        "npz_without_x": [
            "convert",
            keras_file,
            "--data",
            str(_npz(tmp_path / "a.npz", pixels=np.zeros((4, 8, 8, 3)))),
        ],
        "shape_mismatch": ["convert", str(models["saved_model"]), "--input-shape", "32x32"],
        "npz_bad_channels": [
            "convert",
            keras_file,
            "--data",
            str(_npz(tmp_path / "b.npz", x=np.zeros((4, 8, 8, 5)))),
        ],
        "int8_without_data": ["convert", keras_file, "--quant", "int8"],
        "data_with_recipe": ["convert", "--data", str(tmp_path)],
        "bad_set": ["convert", keras_file, "--set", "train.epochs=2"],
        "set_from_option": ["convert", keras_file, "--set", "source.input_size=[8,8]"],
        "unsafe_override": ["convert", keras_file, "--set", "source.allow_unsafe_ops=true"],
    }[case]
    before = sorted(tmp_path.iterdir())
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists() and sorted(tmp_path.iterdir()) == before


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path
