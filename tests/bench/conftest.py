"""Tiny artifacts for the bench tests, converted once per session and saved with artifact.json."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import convert_saved


@pytest.fixture(scope="session")
def tflite_artifact(tiny_reference, tmp_path_factory):
    return convert_saved(tiny_reference, "tflite", tmp_path_factory.mktemp("bench") / "tflite-fp32")


@pytest.fixture(scope="session")
def run_dir(tflite_artifact, tiny_reference, tmp_path_factory) -> Path:
    """A run directory as the pipeline leaves it: artifacts/<name>/ and reference/ with bench inputs."""
    run = tmp_path_factory.mktemp("run") / "demo" / "host"
    shutil.copytree(tflite_artifact.folder, run / "artifacts" / "tflite-fp32")
    (run / "reference").mkdir(parents=True)
    shutil.copy2(tiny_reference / "preprocessing.json", run / "reference" / "preprocessing.json")
    from edgekit.train.shapes import generate_shapes

    images, _, _ = generate_shapes(8, size=32, seed=5)
    buf = io.BytesIO()
    np.save(buf, images.astype(np.float32) / 255.0)
    (run / "reference" / "bench_inputs.npy").write_bytes(buf.getvalue())
    return run


@pytest.fixture
def corrupt_tflite(tflite_artifact, tmp_path) -> Path:
    """A truncated copy of a real model: the everyday way a download or a disk goes wrong."""
    path = tmp_path / "truncated.tflite"
    path.write_bytes(tflite_artifact.path.read_bytes()[:700])
    return path
