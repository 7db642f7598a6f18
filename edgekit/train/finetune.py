"""Two-phase transfer learning: train the head on a frozen backbone, then unfreeze and recompile
with a lower learning rate. Recompiling is what makes the new trainable state and rate take
effect; skipping it is the classic bug this module exists to avoid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class PhaseResult:
    name: str
    epochs: int
    learning_rate: float
    history: dict[str, list[float]]
    trainable_weights: int


@dataclass
class TrainResult:
    phases: list[PhaseResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"phases": [p.__dict__ for p in self.phases]}


def seed_everything(seed: int, deterministic: bool) -> None:
    import tf_keras
    import tensorflow as tf

    tf_keras.utils.set_random_seed(seed)  # python, numpy and TF seeds at once
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_optimizer(name: str, learning_rate: float):
    import tf_keras

    if name == "sgd":
        return tf_keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    return tf_keras.optimizers.Adam(learning_rate=learning_rate)


def fine_tune(model, backbone, x_train, y_train, x_val, y_val, train, log: Callable[[str], None]) -> TrainResult:
    """train: recipe.TrainSection. Returns both phases' histories."""
    result = TrainResult()
    backbone.trainable = False
    result.phases.append(_run_phase(model, "frozen", train.epochs, train.learning_rate, x_train, y_train, x_val, y_val, train, log))
    if train.fine_tune.enabled:
        backbone.trainable = True
        lr = train.fine_tune.learning_rate or train.learning_rate / 10
        result.phases.append(_run_phase(model, "unfrozen", train.fine_tune.epochs, lr, x_train, y_train, x_val, y_val, train, log))
    return result


def _run_phase(model, name, epochs, lr, x_train, y_train, x_val, y_val, train, log) -> PhaseResult:
    import tf_keras

    model.compile(  # a fresh optimizer and compile per phase: see the module docstring
        optimizer=make_optimizer(train.optimizer, lr),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    n_trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    log(f"phase {name}: {epochs} epoch(s), learning rate {lr:g}, {n_trainable:,} trainable parameters")
    validation = (x_val, y_val) if len(y_val) else None
    history = model.fit(
        x_train, y_train, batch_size=train.batch_size, epochs=epochs, validation_data=validation,
        shuffle=True, verbose=0, callbacks=[_EpochLog(name, epochs, log)],
    )
    return PhaseResult(name, epochs, lr, {k: [float(v) for v in vs] for k, vs in history.history.items()}, n_trainable)


def _epoch_log_class():
    import tf_keras

    class EpochLog(tf_keras.callbacks.Callback):
        def __init__(self, phase: str, epochs: int, log: Callable[[str], None]) -> None:
            super().__init__()
            self.phase, self.epochs, self.log = phase, epochs, log

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = [f"{k} {v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")]
            self.log(f"  {self.phase} epoch {epoch + 1}/{self.epochs}: " + ", ".join(parts))

    return EpochLog


def _EpochLog(phase, epochs, log):
    return _epoch_log_class()(phase, epochs, log)
