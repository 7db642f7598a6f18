"""`edgekit train RECIPE` on a tiny recipe: outputs, evaluation, exported signature, and reuse by a rerun."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from train_helpers import SIZE

from edgekit.cli import main


@pytest.fixture()
def tiny_recipe(tmp_path, tiny_module):
    from edgekit.train.shapes import generate_shapes

    images, labels, _ = generate_shapes(60, size=SIZE[0], noise=0.1, seed=1)
    keep = labels < 3
    np.savez(
        tmp_path / "d.npz", images=images[keep], labels=labels[keep], class_names=np.array(["h", "v", "d"])
    )
    recipe = {
        "name": "tiny",
        "source": {"handle": str(tiny_module)},
        "data": {"kind": "npz", "path": "d.npz", "split": {"validation": 0.2, "test": 0.2}},
        "train": {"epochs": 1, "batch_size": 8, "fine_tune": {"epochs": 1}, "early_stopping": 2},
        "quantize": {"calibration_samples": 8},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_train_writes_reference_and_evaluation_then_reuses_it(tiny_recipe, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", str(tiny_recipe), "--out", str(out)]) == 0
    run = out / "tiny" / "host"
    evaluation = json.loads((run / "train" / "evaluation.json").read_text())
    assert set(evaluation["per_class"]) == {"h", "v", "d"} and evaluation["images"] == 9
    assert np.array(evaluation["confusion_matrix"]["rows_true_columns_predicted"]).sum() == 9
    assert (run / "train" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "train" / "history.csv").read_text().splitlines()[0].startswith("phase,epoch,learning_rate")
    assert (run / "reference" / "labels.txt").read_text() == "h\nv\nd\n"
    assert json.loads((run / "reference" / "preprocessing.json").read_text())["input_size"] == list(SIZE)
    _check_signature(run / "reference" / "saved_model")
    capsys.readouterr()
    assert main(["train", str(tiny_recipe), "--out", str(out)]) == 0
    assert "unchanged, reused" in capsys.readouterr().err


def _check_signature(path):
    import tensorflow as tf

    sig = tf.saved_model.load(str(path)).signatures["serving_default"]
    spec = sig.structured_input_signature[1]["image"]
    assert spec.shape.as_list() == [1, *SIZE, 3] and spec.dtype == tf.float32
    probs = sig(image=tf.zeros([1, *SIZE, 3]))["probabilities"].numpy()
    assert probs.shape == (1, 3) and abs(probs.sum() - 1) < 1e-5


def test_train_help_shows_examples(capsys):
    assert main(["train", "--help"]) == 0
    assert "edgekit train my.yaml --set train.epochs=10" in capsys.readouterr().out
