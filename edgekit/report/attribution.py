"""int8 error attribution as the user acts on it: the Keras layer names `convert.tflite.keep_float` takes."""

from __future__ import annotations

from edgekit.convert.tflite_debug import keras_layers


def layer_keras_names(row: dict) -> list[str]:
    """The Keras layers behind one attributed TFLite op (older reports recorded only the TFLite name)."""
    names = row.get("keras_layers")
    return list(names) if names is not None else keras_layers(str(row.get("layer", "")))


def layer_label(row: dict) -> str:
    """'features + outlier_block' for an op fused from two Keras layers; the TFLite name when it has none."""
    names = layer_keras_names(row)
    if names:
        return " + ".join(names)
    if str(row.get("layer", "")).startswith("StatefulPartitionedCall"):  # renamed by the serving signature
        return f"{row.get('layer')} (the model's output, no Keras name)"
    return f"{row.get('layer')} (TFLite op, no Keras name)"


def keep_float_names(rows: list[dict], top: int = 1) -> list[str]:
    """The Keras layer names to try in convert.tflite.keep_float, from the worst rows first, each once."""
    names: list[str] = []
    for row in rows[:top]:
        for name in layer_keras_names(row):
            if name not in names:
                names.append(name)
    return names
