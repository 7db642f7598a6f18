"""The tf.data pipelines, evaluation metrics and device planning (no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_helpers import tiny_splits, tiny_train_section

from edgekit.errors import TrainingError
from edgekit.train.devices import plan_placement
from edgekit.train.evaluate import evaluate, write_evaluation
from edgekit.train.pipeline import class_weights, eval_dataset, train_dataset
from edgekit.train.preprocess import Preprocessing, preprocess


def first_batch(ds):
    return [t.numpy() for t in next(iter(ds))]


def test_pipelines_and_array_preprocessing_agree_bit_for_bit():
    pre = Preprocessing((12, 12), (-1.0, 1.0))
    split = tiny_splits().train
    x_eval, _ = first_batch(eval_dataset(split.images, split.labels, 3, pre, 8))
    assert np.array_equal(x_eval, preprocess(split.images[:8], pre))
    ds, steps = train_dataset(split.images, split.labels, 3, pre, tiny_train_section(batch_size=8))
    x_train, y_train, w = first_batch(ds)
    assert steps == -(-len(split) // 8) and x_train.shape == (8, 12, 12, 3) and y_train.shape == (8, 3)
    reference = preprocess(split.images, pre)
    assert all(any(np.array_equal(x, r) for r in reference) for x in x_train), (
        "no augmentation: same inputs as evaluation"
    )
    assert np.all(w == 1.0)


def test_augmentation_is_seeded_and_changes_training_images_only():
    pre = Preprocessing((16, 16))
    split = tiny_splits().train
    aug = {"flip": True, "crop": 0.2, "rotation": 15, "brightness": 0.2, "contrast": 0.2}
    a = first_batch(train_dataset(split.images, split.labels, 3, pre, tiny_train_section(augment=aug))[0])[0]
    b = first_batch(train_dataset(split.images, split.labels, 3, pre, tiny_train_section(augment=aug))[0])[0]
    plain = first_batch(train_dataset(split.images, split.labels, 3, pre, tiny_train_section())[0])[0]
    assert np.array_equal(a, b), "same seed, same augmented batch"
    assert not np.array_equal(a, plain)
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_class_weights_balance_an_imbalanced_split():
    w = class_weights(np.array([0, 0, 0, 1]), 2)
    assert w.tolist() == pytest.approx([4 / 6, 2.0])


def test_evaluation_metrics_and_files(tmp_path):
    probs = np.eye(3)[[0, 0, 1, 2, 2, 2]]
    ev = evaluate(probs, np.array([0, 1, 1, 2, 2, 0]), ("a", "b", "c"))
    assert ev["accuracy"] == pytest.approx(4 / 6)
    assert ev["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "support": 2}
    assert ev["per_class"]["b"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert ev["confusion_matrix"]["rows_true_columns_predicted"] == [[1, 0, 1], [1, 1, 0], [0, 0, 2]]
    json_path, png_path = write_evaluation(ev, tmp_path)
    assert json.loads(json_path.read_text()) == ev and png_path.read_bytes()[:4] == b"\x89PNG"


def test_placement_picks_gpu_paths_from_the_device_count(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    cpu = plan_placement(tiny_train_section(), gpus=0)
    assert (cpu.mixed_precision, cpu.strategy_name) == (False, "default")
    one = plan_placement(tiny_train_section(), gpus=1)
    assert (one.mixed_precision, one.strategy_name) == (True, "default")
    many = plan_placement(tiny_train_section(mixed_precision="off"), gpus=4)
    assert (many.mixed_precision, many.strategy_name) == (False, "mirrored")
    with pytest.raises(TrainingError, match="TF_CONFIG is not set"):
        plan_placement(tiny_train_section(distribute="multi-worker"), gpus=0)
    monkeypatch.setenv(
        "TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}'
    )
    assert plan_placement(tiny_train_section(), gpus=0).strategy_name == "multi-worker"
