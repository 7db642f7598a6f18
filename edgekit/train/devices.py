"""Where training runs: GPU detection, mixed precision, and the tf.distribute strategy.

Everything is chosen from the recipe plus what `tf.config.list_physical_devices('GPU')` reports,
so the same recipe runs on a laptop CPU, one GPU, several GPUs, or several machines (TF_CONFIG).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from edgekit.errors import TrainingError

MIXED = "mixed_float16"


@dataclass(frozen=True)
class Placement:
    gpus: int
    mixed_precision: bool
    strategy_name: str  # "default", "mirrored", "multi-worker"

    def describe(self) -> str:
        where = f"{self.gpus} GPU(s)" if self.gpus else "CPU"
        return f"{where}, {'mixed float16' if self.mixed_precision else 'float32'}, strategy {self.strategy_name}"


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def plan_placement(train, gpus: int | None = None) -> Placement:
    """train: recipe.TrainSection. gpus: override detection (tests)."""
    gpus = gpu_count() if gpus is None else gpus
    mixed = train.mixed_precision == "on" or (train.mixed_precision == "auto" and gpus > 0)
    return Placement(gpus, mixed, _strategy_name(train.distribute, gpus))


def _strategy_name(setting: str, gpus: int) -> str:
    if setting == "auto":
        if os.environ.get("TF_CONFIG"):
            return "multi-worker"
        return "mirrored" if gpus > 1 else "default"
    if setting == "multi-worker" and not os.environ.get("TF_CONFIG"):
        raise TrainingError(
            "train.distribute is 'multi-worker' but TF_CONFIG is not set",
            hint='set TF_CONFIG on every machine, e.g. {"cluster": {"worker": ["h1:12345", "h2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} (see docs/training.md)',
        )
    return {"none": "default"}.get(setting, setting)


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _check_tf_config() -> None:
    try:
        cfg = json.loads(os.environ["TF_CONFIG"])
        cfg["cluster"]["worker"], cfg["task"]["index"]
    except (KeyError, ValueError, TypeError) as exc:
        raise TrainingError(
            f"TF_CONFIG is not usable ({type(exc).__name__}: {exc})",
            hint="it must be JSON with cluster.worker (host:port list) and task.type/index",
        ) from None


@contextlib.contextmanager
def precision_policy(mixed: bool) -> Iterator[None]:
    """Layers take the global policy when they are built; restore it afterwards so nothing else inherits it."""
    from tf_keras import mixed_precision

    previous = mixed_precision.global_policy()
    mixed_precision.set_global_policy(MIXED if mixed else "float32")
    try:
        yield
    finally:
        mixed_precision.set_global_policy(previous)
