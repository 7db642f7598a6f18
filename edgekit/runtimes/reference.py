"""The reference itself, run in TensorFlow: what every artifact is compared against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.errors import RuntimeLoadError


class ReferenceModel:
    def __init__(self, reference: Path) -> None:
        import tensorflow as tf

        try:
            self._fn = tf.saved_model.load(str(reference / "saved_model")).signatures["serving_default"]
        except (OSError, KeyError, ValueError) as exc:
            raise RuntimeLoadError(f"cannot load the reference SavedModel at {reference}: {exc}") from None
        (self._input_name,) = self._fn.structured_input_signature[1].keys()
        (self._output_name,) = self._fn.structured_outputs.keys()

    def predict(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        outs = [
            self._fn(**{self._input_name: tf.constant(x[i : i + 1])})[self._output_name].numpy()
            for i in range(len(x))
        ]
        return np.concatenate(outs).astype(np.float32)
