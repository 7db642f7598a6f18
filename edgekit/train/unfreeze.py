"""Phase 2 unfreezing: the whole backbone, or only its last N layers.

A tf_keras backbone exposes its layers. A hub.KerasLayer exposes only the SavedModel's variables,
in the module's order; there a "layer" is a group of variables sharing a name prefix
("conv2d_3/kernel", "conv2d_3/bias"), which is how Keras names them when it saves a model.
"""

from __future__ import annotations

from edgekit.errors import TrainingError


def unfreeze(backbone, spec: str | int) -> int:
    """Make the backbone trainable (all, or its last `spec` layers). Returns how many layers are trainable."""
    backbone.trainable = True
    if hasattr(backbone, "layers"):
        return _unfreeze_keras_layers(backbone, len(backbone.layers) if isinstance(spec, str) else spec)
    return _unfreeze_hub_variables(backbone, spec)


def _unfreeze_keras_layers(backbone, n: int) -> int:
    layers = [layer for layer in backbone.layers if layer.weights]
    for i, layer in enumerate(layers):
        layer.trainable = i >= len(layers) - n
    return min(n, len(layers))


def _prefix(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else name.split(":")[0]


def _unfreeze_hub_variables(backbone, spec: str | int) -> int:
    """Move the variables of all but the last N groups to the layer's non-trainable list.

    hub.KerasLayer has no per-variable switch; its trainable_weights property reads these two
    lists (keras Layer internals), so this is the one place that relies on them. Variables are
    compared by id: == on tf.Variable is element-wise.
    """
    every = list(backbone._trainable_weights) + [v for v in backbone._non_trainable_weights if v.trainable]
    groups = list(dict.fromkeys(_prefix(v.name) for v in every))
    if not groups:
        raise TrainingError(
            "fine_tune.unfreeze: the backbone module has no trainable variables",
            hint="use train.fine_tune.enabled: false for this module",
        )
    keep = set(groups if isinstance(spec, str) else groups[-spec:])  # a str is "all" (recipe.py)
    ids = {id(v) for v in every}
    frozen = [v for v in every if _prefix(v.name) not in keep]
    # Mutate in place: assigning a list attribute makes Keras re-file every variable by its own
    # .trainable flag, which would put the frozen ones straight back.
    backbone._non_trainable_weights[:] = [
        v for v in backbone._non_trainable_weights if id(v) not in ids
    ] + frozen
    backbone._trainable_weights[:] = [v for v in every if _prefix(v.name) in keep]
    return len(keep)
