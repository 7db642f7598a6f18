"""Two-phase fine-tuning on a tiny hub-format backbone: what changes in which phase, the rebuilt
optimizer, partial unfreezing, mixed precision on CPU, and byte-identical determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from train_helpers import tiny_splits, tiny_train_section

from edgekit.train.engine import train_classifier, training_data
from edgekit.train.finetune import fine_tune, seed_everything
from edgekit.train.model import build_classifier
from edgekit.train.preprocess import Preprocessing

PRE = Preprocessing((16, 16))


def snapshot(layer) -> dict[str, np.ndarray]:
    return {w.name: w.numpy().copy() for w in layer.weights}


def changed(before, after) -> list[bool]:
    return [not np.array_equal(before[n], after[n]) for n in before]


def run_two_phases(tiny_module, **changes):
    """Train and record, at the start of each phase, the weights and the optimizer fit() will use."""
    train = tiny_train_section(**changes)
    splits = tiny_splits()
    seed_everything(train.seed, train.deterministic)
    model, backbone = build_classifier(tiny_module, PRE, 3, train.head)
    head = model.get_layer("probabilities")
    seen = {}

    def log(msg):
        if msg.startswith("phase "):
            name = msg.split()[1].rstrip(":")
            seen[name] = (
                snapshot(backbone),
                snapshot(head),
                model.optimizer,
                float(model.optimizer.learning_rate),
            )

    fine_tune(model, backbone, training_data(splits, PRE, train), train, log)
    seen["end"] = (snapshot(backbone), snapshot(head), model.optimizer, float(model.optimizer.learning_rate))
    return seen


def test_phase1_trains_head_only_phase2_trains_backbone_with_a_new_slower_optimizer(tiny_module):
    seen = run_two_phases(tiny_module)
    (bb0, head0, opt1, lr1), (bb1, head1, opt2, lr2), (bb2, head2, _, _) = (
        seen["frozen"],
        seen["unfrozen"],
        seen["end"],
    )
    kernels = [i for i, w in enumerate(bb0.values()) if w.ndim == 4]  # conv kernels are trainable variables
    assert not any(changed(bb0, bb1)), "phase 1 must not touch the frozen backbone"
    assert all(changed(head0, head1)) and all(changed(head1, head2)), "the head trains in both phases"
    assert all(changed(bb1, bb2)[i] for i in kernels), "phase 2 must update the unfrozen backbone"
    assert opt2 is not opt1, "phase 2 must compile with a fresh optimizer"
    assert lr1 == pytest.approx(0.01) and lr2 == pytest.approx(0.001)  # default: 1/10 of phase 1


def test_unfreeze_last_n_layers_leaves_earlier_layers_alone(tiny_module):
    seen = run_two_phases(
        tiny_module, fine_tune={"unfreeze": 1, "learning_rate": 0.005, "label_smoothing": 0.1}
    )
    (bb1, _, _, lr2), (bb2, _, _, _) = seen["unfrozen"], seen["end"]
    moved = {n for n in bb1 if not np.array_equal(bb1[n], bb2[n])}
    assert lr2 == pytest.approx(0.005)
    assert {"block/kernel:0", "block/bias:0"} <= moved
    # BatchNorm moving statistics follow the forward pass (the module runs in training mode), not gradients.
    trained_earlier = {n for n in moved if n.startswith("stem") and "moving_" not in n}
    assert not trained_earlier, f"only the last layer may be trained, got {trained_earlier}"


def test_mixed_precision_path_runs_on_cpu_and_exports_float32(tiny_module):
    import tf_keras

    trained = train_classifier(
        tiny_module,
        tiny_splits(),
        PRE,
        tiny_train_section(mixed_precision="on", fine_tune={"enabled": False}),
        log=lambda m: None,
        gpus=0,
    )
    assert trained.placement.mixed_precision
    assert tf_keras.mixed_precision.global_policy().name == "float32", "the policy must not leak"
    assert trained.model.get_layer("probabilities").compute_dtype == "float32"
    assert trained.test_probabilities.dtype == np.float32
    np.testing.assert_allclose(trained.test_probabilities.sum(1), 1.0, rtol=1e-5)


def test_mixed_precision_model_computes_head_in_float16_with_loss_scaling(tiny_module):
    import tf_keras

    train = tiny_train_section(head={"hidden": [4]})
    model, _ = build_classifier(tiny_module, PRE, 3, train.head, mixed_precision=True)
    assert model.get_layer("head_dense_0").compute_dtype == "float16"
    assert model.get_layer("probabilities").compute_dtype == "float32"
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    assert isinstance(model.optimizer, tf_keras.mixed_precision.LossScaleOptimizer)


def weights_sha256(model) -> str:
    h = hashlib.sha256()
    for w in model.weights:
        h.update(w.name.encode())
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    return h.hexdigest()


def test_same_recipe_and_data_give_byte_identical_weights(tiny_module, tmp_path):
    train = tiny_train_section(
        augment={"flip": True, "crop": 0.1, "rotation": 10, "brightness": 0.1, "contrast": 0.1},
        head={"dropout": 0.3},
        class_weights="auto",
    )
    digests = [
        weights_sha256(
            train_classifier(
                tiny_module, tiny_splits(), PRE, train, lambda m: None, workdir=tmp_path / str(i), gpus=0
            ).model
        )
        for i in range(2)
    ]
    assert digests[0] == digests[1]
    assert (tmp_path / "0" / "history.csv").read_text() == (tmp_path / "1" / "history.csv").read_text()
