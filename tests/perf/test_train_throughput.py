"""Training throughput (images/s) of the bundled demo recipe on this machine's CPU (or GPU, if present).

Run: uv run pytest tests/perf/test_train_throughput.py -m perf -s
On a GPU machine it also trains in fp32 and mixed precision and prints both throughputs.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.perf


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from edgekit.recipe import BUNDLED_DEMO, load_recipe
    from edgekit.sources import SourceSettings, resolve_source
    from edgekit.train.data import load_data, split_data
    from edgekit.train.preprocess import Preprocessing

    recipe = load_recipe(BUNDLED_DEMO)
    source = resolve_source(recipe.source.handle, SourceSettings(cache_dir=tmp_path_factory.mktemp("cache")))
    d = recipe.data
    splits = split_data(load_data(d, BUNDLED_DEMO.parent), d.split.validation, d.split.test, d.split.seed)
    return (
        recipe,
        source,
        splits,
        Preprocessing(tuple(source.info.input_size), tuple(source.info.value_range)),
    )


def measure(demo, precision: str) -> float:
    from edgekit.train.engine import train_classifier

    recipe, source, splits, pre = demo
    train = recipe.train.model_copy(update={"mixed_precision": precision})
    epochs = train.epochs + (train.fine_tune.epochs if train.fine_tune.enabled else 0)
    start = time.perf_counter()
    trained = train_classifier(source.path, splits, pre, train, log=lambda m: None)
    took = time.perf_counter() - start
    rate = len(splits.train) * epochs / took
    print(
        f"\n[{trained.placement.describe()}] {epochs} epochs x {len(splits.train)} images in {took:.1f} s: "
        f"{rate:.0f} images/s (model build and evaluation included)"
    )
    return rate


def test_demo_training_throughput(demo):
    from edgekit.train.devices import gpu_count

    rates = {"off": measure(demo, "off")}
    if gpu_count():
        rates["on"] = measure(demo, "on")
    assert all(r > 0 for r in rates.values())
