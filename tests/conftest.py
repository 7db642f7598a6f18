"""Shared fixtures: tiny models and data built in code, once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tiny_models import TINY_CLASSES, TINY_SIZE, build_tiny_classifier, tiny_images  # noqa: F401 (re-exported)


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: 10,000 mutants per loader under tests/fuzz (run with -m fuzz)")


def pytest_collection_modifyitems(config, items):
    """The long fuzz suite runs only when asked for by `-m fuzz` (a quick sample is always run)."""
    if "fuzz" in (config.getoption("-m") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("fuzz") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item.get_closest_marker("fuzz") is not None]
        )
        items[:] = kept


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory) -> Path:
    """A reference folder exactly as the pipeline writes it: saved_model/, labels.txt, preprocessing.json."""
    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    folder = tmp_path_factory.mktemp("tiny") / "reference"
    export_reference(build_tiny_classifier(), folder, Preprocessing(TINY_SIZE), TINY_CLASSES)
    return folder


@pytest.fixture(scope="session")
def tiny_calibration() -> np.ndarray:
    return tiny_images(64, seed=1)


@pytest.fixture(scope="session")
def flex_reference(tmp_path_factory):
    """A model using MatrixDeterminant, which only exists as a Select TF (Flex) op."""
    import tensorflow as tf

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="image")])
        def serve(self, image):
            return {"probabilities": tf.nn.softmax(tf.linalg.det(tf.reshape(image, [1, 3, 8, 8])))}

    folder = tmp_path_factory.mktemp("flex")
    model = Model()
    tf.saved_model.save(model, str(folder / "saved_model"), signatures={"serving_default": model.serve})
    return folder


@pytest.fixture
def cpu_hogs():
    """Two busy processes for the whole test (tests/cpu_hogs.py)."""
    from cpu_hogs import cpu_hogs_running

    with cpu_hogs_running(2) as count:
        yield count
