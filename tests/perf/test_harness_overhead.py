"""Harness overhead: edgekit's p50 (fresh worker, Session.invoke, the timed loop) against a bare
LiteRT invoke loop in this process, on the same artifact, input and thread count. Goal: ≤ 3%.

Run: uv run pytest tests/perf -m perf -q -s
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest

from edgekit.bench import Protocol, bench_paths

pytestmark = pytest.mark.perf

THREADS = 1
PROTOCOL = Protocol(threads=THREADS, warmup_runs=20, min_runs=300, min_time_s=2.0)
ROUNDS = 3  # interleaved, so a slow drift of the machine hits both sides alike


def build_medium_tflite(reference_root, out):
    """A mobile-style conv net big enough (~1 ms) that timer resolution does not dominate."""
    import tf_keras

    from edgekit.convert import FORMATS, ConversionRequest
    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    tf_keras.utils.set_random_seed(0)
    L = tf_keras.layers
    inputs = tf_keras.Input((128, 128, 3), name="image")
    x = L.Conv2D(64, 3, strides=2, padding="same", activation="relu")(inputs)
    for filters in (64, 128, 128, 256):
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = L.Conv2D(filters, 1, activation="relu")(x)
        x = L.MaxPooling2D()(x) if filters != 256 else x
    x = L.GlobalAveragePooling2D()(x)
    model = tf_keras.Model(inputs, L.Dense(4, activation="softmax")(x))
    export_reference(model, reference_root, Preprocessing((128, 128)), ("a", "b", "c", "d"))
    artifact = FORMATS.get("tflite").convert(ConversionRequest(reference_root, "tflite", "fp32", out))
    artifact.save()
    return artifact


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    root = tmp_path_factory.mktemp("perf")
    return build_medium_tflite(root / "reference", root / "tflite-fp32")


def bare_p50(artifact, x: np.ndarray) -> float:
    """What a user would write: set_tensor, invoke, get_tensor, timed with perf_counter."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(artifact.path), num_threads=THREADS)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    for _ in range(PROTOCOL.warmup_runs):
        interp.set_tensor(i, x)
        interp.invoke()
    samples, gc_on = [], gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    while len(samples) < PROTOCOL.min_runs or time.perf_counter() - start < PROTOCOL.min_time_s:
        t0 = time.perf_counter()
        interp.set_tensor(i, x)
        interp.invoke()
        interp.get_tensor(o)
        samples.append((time.perf_counter() - t0) * 1000)
    if gc_on:
        gc.enable()
    return float(np.percentile(samples, 50))


def test_edgekit_p50_is_within_3_percent_of_a_bare_invoke_loop(medium):
    from edgekit.bench.inputs import generated_inputs

    x = generated_inputs(medium).x[:1]  # the very input the worker uses for a bare artifact
    bare, ours = [], []
    for _ in range(ROUNDS):
        bare.append(bare_p50(medium, x))
        [r] = bench_paths([medium.folder], PROTOCOL)
        assert r["status"] == "ok", r["error"]
        ours.append(r["p50_ms"])
    ratio = float(np.median(ours) / np.median(bare))
    print(
        f"\nharness overhead: edgekit p50 {np.median(ours):.4f} ms vs bare loop {np.median(bare):.4f} ms "
        f"(rounds: edgekit {[round(v, 4) for v in ours]}, bare {[round(v, 4) for v in bare]}) → ratio {ratio:.4f}"
    )
    assert ratio <= 1.03
