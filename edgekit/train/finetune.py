"""Two-phase transfer learning: train the head on a frozen backbone, then unfreeze and recompile
with a lower learning rate. Recompiling is what makes the new trainable state and rate take
effect; skipping it is the classic bug this module exists to avoid."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.fsutil import atomic_write_text
from edgekit.train.callbacks import best_checkpoint, phase_callbacks
from edgekit.train.unfreeze import unfreeze


@dataclass
class PhaseResult:
    name: str
    epochs: int
    learning_rate: float
    history: dict[str, list[float]]
    trainable_weights: int
    label_smoothing: float = 0.0
    epochs_run: int = 0


@dataclass
class TrainResult:
    phases: list[PhaseResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"phases": [p.__dict__ for p in self.phases]}


@dataclass
class TrainingData:
    """What fit() consumes: an endless training dataset with its epoch length, and an optional validation set."""

    train: Any
    steps_per_epoch: int
    validation: Any = None


def seed_everything(seed: int, deterministic: bool) -> None:
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(seed)  # python, numpy and TF seeds at once
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_optimizer(name: str, learning_rate: float):
    import tf_keras

    if name == "sgd":
        return tf_keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    return tf_keras.optimizers.Adam(learning_rate=learning_rate)


def fine_tune(
    model,
    backbone,
    data: TrainingData,
    train,
    log: Callable[[str], None],
    workdir: Path | None = None,
    strategy=None,
) -> TrainResult:
    """train: recipe.TrainSection. strategy: the tf.distribute strategy the model was built under."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    result = TrainResult()
    backbone.trainable = False
    result.phases.append(
        _run_phase(
            model, "frozen", train.epochs, train.learning_rate, 0.0, data, train, log, workdir, strategy
        )
    )
    if train.fine_tune.enabled:
        ft = train.fine_tune
        layers = unfreeze(backbone, ft.unfreeze)
        log(f"unfroze {'all ' if ft.unfreeze == 'all' else 'the last '}{layers} backbone layer(s)")
        lr = ft.learning_rate or train.learning_rate / 10
        result.phases.append(
            _run_phase(
                model, "unfrozen", ft.epochs, lr, ft.label_smoothing, data, train, log, workdir, strategy
            )
        )
    if workdir is not None:
        write_history_csv(result, workdir / "history.csv")
    return result


def _run_phase(
    model, name, epochs, lr, smoothing, data: TrainingData, train, log, workdir, strategy
) -> PhaseResult:
    import tf_keras

    with strategy.scope():  # a fresh optimizer and compile per phase: see the module docstring
        model.compile(
            optimizer=make_optimizer(train.optimizer, lr),
            loss=tf_keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
            metrics=["accuracy"],
            jit_compile=train.jit_compile,
        )
    n_trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    log(f"phase {name}: {epochs} epoch(s), learning rate {lr:g}, {n_trainable:,} trainable parameters")
    has_val = data.validation is not None
    history = model.fit(
        data.train,
        steps_per_epoch=data.steps_per_epoch,
        epochs=epochs,
        validation_data=data.validation,
        verbose=0,
        callbacks=phase_callbacks(name, epochs, log, workdir, has_val, train.early_stopping),
    )
    best = best_checkpoint(workdir, name) if workdir is not None else None
    if (
        best is not None
        and has_val
        and not train.early_stopping
        and best.with_name(best.name + ".index").exists()
    ):
        # Early stopping already restored its best weights; otherwise come back to the best checkpoint.
        model.load_weights(str(best)).expect_partial()
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    return PhaseResult(name, epochs, lr, hist, n_trainable, smoothing, len(hist.get("loss", [])))


def write_history_csv(result: TrainResult, path: Path) -> Path:
    """One row per epoch of both phases, atomically (a later step may read it)."""
    keys = sorted({k for p in result.phases for k in p.history})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["phase", "epoch", "learning_rate", *keys])
    for p in result.phases:
        for e in range(p.epochs_run):
            writer.writerow(
                [p.name, e + 1, p.learning_rate, *(p.history.get(k, [""] * p.epochs_run)[e] for k in keys)]
            )
    return atomic_write_text(path, buf.getvalue())
