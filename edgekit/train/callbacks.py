"""Callbacks for one training phase: progress lines, early stopping, best checkpoint, TensorBoard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def phase_callbacks(
    phase: str,
    epochs: int,
    log: Callable[[str], None],
    workdir: Path | None,
    has_validation: bool,
    patience: int | None,
) -> list:
    import tf_keras

    cbs = [_epoch_log_class()(phase, epochs, log)]
    if has_validation and patience:
        cbs.append(tf_keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True))
    if workdir is not None and tensorboard_available():
        cbs.append(
            tf_keras.callbacks.TensorBoard(
                str(workdir / "tensorboard" / phase), profile_batch=0, write_graph=False
            )
        )
    if workdir is not None and has_validation:
        cbs.append(
            tf_keras.callbacks.ModelCheckpoint(
                str(best_checkpoint(workdir, phase)),
                monitor="val_loss",
                save_best_only=True,
                save_weights_only=True,
            )
        )
    return cbs


def tensorboard_available() -> bool:
    """TensorFlow 2.21 no longer pulls in the tensorboard package; without it tf.summary cannot write."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def best_checkpoint(workdir: Path, phase: str) -> Path:
    """TF checkpoint prefix (not .h5: the hub layer's variables are restored by object graph, not by name)."""
    return workdir / "checkpoints" / f"best-{phase}"


def _epoch_log_class():
    import tf_keras

    class EpochLog(tf_keras.callbacks.Callback):
        def __init__(self, phase: str, epochs: int, log: Callable[[str], None]) -> None:
            super().__init__()
            self.phase, self.epochs, self.log = phase, epochs, log

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = [
                f"{k} {v:.3f}"
                for k, v in logs.items()
                if k in ("loss", "accuracy", "val_loss", "val_accuracy")
            ]
            self.log(f"  {self.phase} epoch {epoch + 1}/{self.epochs}: " + ", ".join(parts))

    return EpochLog
