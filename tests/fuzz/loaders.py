"""The loaders under fuzz: for each, a seed file built in code and the call a user's command makes.

Each call gets a path to a mutated file and must either load it or raise an EdgekitError; any
other exception is a crash, and a call that outlives its time budget is a hang.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Loader:
    name: str
    file_name: str  # the mutant is written under this name (loaders look at suffixes)
    kind: str  # binary | json | yaml: how the mutator treats it
    run: Callable[[Path, dict], object]  # (mutant path, seeds) → anything; raises EdgekitError on bad input


def _estimate(path: Path, seeds: dict) -> object:
    """What `edgekit targets estimate PATH -t rpi4` does: analyse, pick the quant mode, estimate."""
    from edgekit.targets.artifacts import read_artifact_input
    from edgekit.targets.estimator import estimate
    from edgekit.targets.profile import resolve_target

    art = read_artifact_input(path)
    e = estimate(art.analysis, resolve_target("rpi4"), quant=art.quant)
    json.dumps(e.to_dict())  # what --json prints must serialize
    return e.slowest_ops(art.analysis)


def _analyze(path: Path, seeds: dict) -> object:
    """What `edgekit targets analyze PATH --json` does."""
    from edgekit.targets.analysis import analyze

    return json.dumps(analyze(path).to_dict())


def _tflite(path: Path, seeds: dict) -> object:
    _analyze(path, seeds)
    return _estimate(path, seeds)


def _tfjs(path: Path, seeds: dict) -> object:
    from edgekit.targets.artifacts import read_artifact_input

    return read_artifact_input(path, graph=seeds["tflite_path"])


def _recipe(path: Path, seeds: dict) -> object:
    from edgekit.recipe import load_recipe

    return load_recipe(path)


def _report(path: Path, seeds: dict) -> object:
    from edgekit.report.schema import load_report

    return load_report(path)


def _bench(path: Path, seeds: dict) -> object:
    from edgekit.targets.calibration.bench_input import parse_bench_json

    return parse_bench_json(path)


def _bundle(path: Path, seeds: dict) -> object:
    from edgekit.bundle.verify import verify_bundle

    return verify_bundle(path)


def _profile(path: Path, seeds: dict) -> object:
    from edgekit.targets.profile import load_profile_file

    return load_profile_file(path)


LOADERS = {
    loader.name: loader
    for loader in (
        Loader("tflite", "model.tflite", "binary", _tflite),
        Loader("onnx", "model.onnx", "binary", _tflite),
        Loader("tfjs-model.json", "model.json", "json", _tfjs),
        Loader("recipe", "recipe.yaml", "yaml", _recipe),
        Loader("report.json", "report.json", "json", _report),
        Loader("bench-json", "bench.json", "json", _bench),
        Loader("bundle", "bundle.tar.gz", "binary", _bundle),
        Loader("device-profile", "profile.yaml", "yaml", _profile),
    )
}


# --- seeds ---------------------------------------------------------------------------------------


def tflite_seed() -> bytes:
    """Conv 3x3 → depthwise → 1x1 conv → pool → dense, int8: every reader path has data to trust."""
    import tensorflow as tf
    import tf_keras

    L = tf_keras.layers
    inp = tf_keras.Input((8, 8, 3), batch_size=1)
    x = L.Conv2D(4, 3, padding="same", bias_initializer="ones")(inp)
    x = L.DepthwiseConv2D(3, strides=2, bias_initializer="ones")(x)
    x = L.Conv2D(4, 1, bias_initializer="ones")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(3, bias_initializer="ones")(x)
    converter = tf.lite.TFLiteConverter.from_keras_model(tf_keras.Model(inp, out))
    rng = np.random.default_rng(0)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)] for _ in range(4)
    )
    return converter.convert()


def onnx_seed() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    def init(name, shape):
        return numpy_helper.from_array(np.full(shape, 0.5, np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=4, strides=[2, 2]),
        helper.make_node("MaxPool", ["c2"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "seed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [
            init("w1", (4, 3, 3, 3)),
            init("b1", (4,)),
            init("w2", (8, 1, 3, 3)),
            init("w3", (3, 8)),
            init("b3", (3,)),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def tfjs_seed() -> bytes:
    weights = [
        {
            "name": "conv/kernel",
            "shape": [3, 3, 3, 4],
            "dtype": "float32",
            "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.0078},
        },
        {"name": "dense/kernel", "shape": [4, 3], "dtype": "float32"},
    ]
    return json.dumps(
        {
            "format": "graph-model",
            "generatedBy": "2.21.0",
            "convertedBy": "TensorFlow.js Converter v4.22.0",
            "signature": {
                "inputs": {
                    "x": {
                        "name": "x:0",
                        "dtype": "DT_FLOAT",
                        "tensorShape": {"dim": [{"size": "1"}, {"size": "8"}]},
                    }
                }
            },
            "modelTopology": {
                "node": [
                    {"name": "x", "op": "Placeholder"},
                    {"name": "conv", "op": "Conv2D", "input": ["x", "conv/kernel"]},
                ]
            },
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}],
        },
        indent=1,
    ).encode()


def recipe_seed() -> bytes:
    from edgekit.recipe import BUNDLED_DEMO

    return BUNDLED_DEMO.read_bytes()


def profile_seed() -> bytes:
    from edgekit.targets.profile import PROFILE_DIR

    return (PROFILE_DIR / "rpi4.yaml").read_bytes()


def report_seed() -> bytes:
    from synthetic import make_report

    report = make_report()
    for row in report["artifacts"]:  # keep the seed small: mutations should hit structure, not samples
        row["bench"]["samples_ms"] = row["bench"]["samples_ms"][:5]
    return json.dumps(report, indent=1).encode()


def bench_seed(tflite: bytes, folder: Path) -> bytes:
    from edgekit.targets.analysis import analyze

    path = folder / "bench-seed.tflite"
    path.write_bytes(tflite)
    analysis = analyze(path).to_dict()
    return json.dumps(
        {
            "results": [
                {"artifact": analysis, "p50_ms": 3.2, "threads": 4, "quant": "int8", "runtime": "litert"},
                {
                    "artifact": {"path": str(path), "quant": "int8"},
                    "p50_ms": 2.5,
                    "runtime": {"runtime": "litert", "threads": 2},
                },
                {"artifact": "bench-seed.tflite", "status": "failed"},
            ]
        },
        indent=1,
    ).encode()


def bundle_seed(folder: Path) -> bytes:
    from synthetic import write_run_dir

    from edgekit.bundle.build import write_bundle

    run = write_run_dir(folder / "run")
    return write_bundle(run, folder / "seed.tar.gz").read_bytes()


def build_seeds(folder: Path) -> dict:
    tflite = tflite_seed()
    (folder / "seed.tflite").write_bytes(tflite)
    return {
        "tflite": tflite,
        "onnx": onnx_seed(),
        "tfjs-model.json": tfjs_seed(),
        "recipe": recipe_seed(),
        "report.json": report_seed(),
        "bench-json": bench_seed(tflite, folder),
        "bundle": bundle_seed(folder),
        "device-profile": profile_seed(),
        "tflite_path": folder / "seed.tflite",
    }
