"""The training run as a list of steps: place, seed, build the pipelines and the model, fine-tune,
bring the model back to float32, evaluate. edgekit/stages/train.py calls this and exports the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.train.callbacks import tensorboard_available
from edgekit.train.data import Splits
from edgekit.train.devices import Placement, make_strategy, plan_placement
from edgekit.train.finetune import TrainingData, TrainResult, fine_tune, seed_everything
from edgekit.train.model import build_classifier, float32_twin
from edgekit.train.pipeline import class_weights, eval_dataset, train_dataset
from edgekit.train.preprocess import Preprocessing

EVAL_BATCH = 64


@dataclass
class TrainedModel:
    model: Any  # float32 tf_keras model, ready for export
    backbone: Any
    result: TrainResult
    placement: Placement
    test_probabilities: np.ndarray


def train_classifier(
    module_path: Path,
    splits: Splits,
    preproc: Preprocessing,
    train,
    log: Callable[[str], None],
    workdir: Path | None = None,
    gpus: int | None = None,
) -> TrainedModel:
    """train: recipe.TrainSection. workdir: where checkpoints, TensorBoard logs and history.csv go."""
    placement = plan_placement(train, gpus)
    log(f"training on {placement.describe()}")
    if workdir is not None and not tensorboard_available():
        log("TensorBoard logs skipped: the tensorboard package is not installed (pip install tensorboard)")
    seed_everything(train.seed, train.deterministic)
    strategy = make_strategy(placement.strategy_name)
    data = training_data(splits, preproc, train)
    n = len(splits.train.class_names)
    with strategy.scope():
        model, backbone = build_classifier(module_path, preproc, n, train.head, placement.mixed_precision)
    result = fine_tune(model, backbone, data, train, log, workdir, strategy)
    if placement.mixed_precision:
        model = float32_twin(model, module_path, preproc, n, train.head)
    test = eval_dataset(splits.test.images, splits.test.labels, n, preproc, EVAL_BATCH, train.deterministic)
    probs = model.predict(test, verbose=0) if len(splits.test) else np.zeros((0, n), np.float32)
    return TrainedModel(model, backbone, result, placement, probs)


def training_data(splits: Splits, preproc: Preprocessing, train) -> TrainingData:
    n = len(splits.train.class_names)
    weights = class_weights(splits.train.labels, n) if train.class_weights == "auto" else None
    ds, steps = train_dataset(splits.train.images, splits.train.labels, n, preproc, train, weights)
    val = None
    if len(splits.validation):
        val = eval_dataset(
            splits.validation.images,
            splits.validation.labels,
            n,
            preproc,
            train.batch_size,
            train.deterministic,
        )
    return TrainingData(ds, steps, val)
