"""edgekit's batch-norm folding gives tensorflowjs's GraphDef byte for byte, and is what the converter calls."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from edgekit.convert import tfjs_fold
from edgekit.convert._tfjs_imports import FOLD_MODULE, import_tfjs_converter


def _graph_before_folding(tmp_path, monkeypatch):
    """The GraphDef tensorflowjs's converter hands to the fold (after its grappler pass), for a model with
    Conv2D → BN, DepthwiseConv2D → BN and Conv2D with bias → BN, with non-trivial statistics."""
    import tf_keras

    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    inputs = tf_keras.Input((12, 12, 3))
    x = tf_keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
    x = tf_keras.layers.BatchNormalization()(x)
    x = tf_keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)(x)
    x = tf_keras.layers.BatchNormalization(epsilon=1e-3)(x)
    x = tf_keras.layers.Conv2D(5, 1, use_bias=True)(x)
    x = tf_keras.layers.BatchNormalization(scale=False)(x)
    model = tf_keras.Model(inputs, tf_keras.layers.GlobalAveragePooling2D()(x))
    rng = np.random.default_rng(7)
    model.set_weights([rng.uniform(0.2, 2.0, w.shape).astype(np.float32) for w in model.get_weights()])
    reference = export_reference(model, tmp_path / "reference", Preprocessing((12, 12)), ("a",) * 5)

    converter = import_tfjs_converter()
    fold_module = importlib.import_module(FOLD_MODULE)
    seen = []

    def spy(graph_def):
        seen.append(type(graph_def)())
        seen[-1].CopyFrom(graph_def)
        return tfjs_fold.fold_batch_norms(graph_def)

    monkeypatch.setattr(fold_module, "fold_batch_norms", spy)
    converter.convert_tf_saved_model(str(reference / "saved_model"), str(tmp_path / "js"))
    assert len(seen) == 1
    assert sum(n.op == "FusedBatchNormV3" for n in seen[0].node) == 3
    return seen[0]


def test_fold_matches_tensorflowjs_byte_for_byte(tmp_path, monkeypatch):
    import_tfjs_converter()
    upstream = importlib.import_module(FOLD_MODULE)
    assert upstream.fold_batch_norms is tfjs_fold.fold_batch_norms  # the converter calls ours
    # tensorflowjs's own function, from a fresh copy of its module (ours replaced the attribute)
    spec = importlib.util.find_spec(FOLD_MODULE)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert fresh.fold_batch_norms is not tfjs_fold.fold_batch_norms

    graph_def = _graph_before_folding(tmp_path, monkeypatch)
    theirs_in, ours_in = type(graph_def)(), type(graph_def)()
    theirs_in.CopyFrom(graph_def)
    ours_in.CopyFrom(graph_def)
    theirs = fresh.fold_batch_norms(theirs_in)
    ours = tfjs_fold.fold_batch_norms(ours_in)

    assert not any(n.op == "FusedBatchNormV3" for n in ours.node)
    assert sum(n.op == "BiasAdd" for n in ours.node) >= 3
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


def test_fold_refuses_duplicate_node_names():
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    graph_def.node.add(name="a", op="Const")
    graph_def.node.add(name="a", op="Const")
    with pytest.raises(ValueError, match="Duplicate node names"):
        tfjs_fold.fold_batch_norms(graph_def)
