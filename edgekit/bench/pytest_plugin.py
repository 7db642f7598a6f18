"""pytest plugin: latency checks in the user's own CI.

    def test_latency(edgekit_bench):
        result = edgekit_bench("model.tflite", threads=4)
        assert result.validity != "INVALID"
        assert result.p90_ms < 25

Each call measures in a fresh worker process (the same engine as `edgekit bench`).

With pytest-benchmark active, `edgekit_bench` depends on its `benchmark` fixture, so a test that
uses it IS a benchmark by pytest-benchmark's rules: `--benchmark-only` runs it, `--benchmark-skip`
skips it before anything is measured, `--benchmark-disable` measures (the test's assertions still
hold) without recording stats. The first call in a test feeds its timed samples into the test's
`benchmark` fixture, so they land in `--benchmark-json` and the comparison table. Without
pytest-benchmark (or with `-p no:benchmark`) the fixture works alone.

The plugin is loaded once, whether through its `pytest11` entry point (`edgekit`) or by module
name (`-p edgekit.bench.pytest_plugin`, `pytest_plugins = [...]`): whichever name registers it
first blocks the other (see pytest_addoption).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ENTRY_POINT = "edgekit"  # the pytest11 entry point name in pyproject.toml
_FIXTURE_PLUGIN = "edgekit-bench-fixture"


@dataclass(frozen=True)
class BenchResult:
    """Attribute access over the result dict (same field names as the JSON schema)."""

    data: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def ok(self) -> bool:
        return self.data["status"] == "ok"

    @property
    def samples_ms(self):
        from edgekit.bench.samples import decode_samples

        return decode_samples(self.data)


class BenchFailed(AssertionError):
    """The artifact could not be measured; the message carries the error and stderr tail."""


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Runs the moment this module is registered (pytest_addoption is a historic hook).

    Upstream behaviour: pytest registers a module under each name it is loaded by, and pluggy
    refuses the second name of the same module object ("Plugin already registered under a
    different name"): `-p edgekit.bench.pytest_plugin` crashed when the entry point was installed.
    Blocking the other name makes pytest skip that load instead.
    """
    me = sys.modules[__name__]
    registered_as = pluginmanager.get_name(me)
    for other in (ENTRY_POINT, __name__):
        if (
            other != registered_as
            and pluginmanager.get_plugin(other) is None
            and not pluginmanager.is_blocked(other)
        ):
            pluginmanager.set_blocked(other)


def pytest_configure(config: pytest.Config) -> None:
    # The fixture's signature decides pytest-benchmark's selection (it looks for "benchmark" in
    # each test's fixture closure at collection), so it must name `benchmark` when, and only when,
    # that fixture exists.
    if config.pluginmanager.get_plugin(_FIXTURE_PLUGIN) is None:
        holder = _WithBenchmark() if config.pluginmanager.hasplugin("benchmark") else _Alone()
        config.pluginmanager.register(holder, _FIXTURE_PLUGIN)


class _Alone:
    @pytest.fixture
    def edgekit_bench(self, request: pytest.FixtureRequest):
        """Call it with an artifact path (run dir, artifact folder, .tflite/.onnx/model.json) and options."""
        return _runner(None)


class _WithBenchmark:
    @pytest.fixture
    def edgekit_bench(self, request: pytest.FixtureRequest, benchmark):
        """Call it with an artifact path (run dir, artifact folder, .tflite/.onnx/model.json) and options."""
        return _runner(benchmark)


def _runner(benchmark) -> Callable[..., BenchResult]:
    from edgekit.bench.measure import Protocol
    from edgekit.bench.runner import bench_paths

    def run(
        path: str | Path,
        threads: int = 1,
        runtime: str | None = None,
        min_runs: int = 20,
        min_time_s: float = 0.5,
        warmup_runs: int = 3,
        timeout_s: float = 600.0,
        allow_failure: bool = False,
    ) -> BenchResult:
        protocol = Protocol(
            threads=threads, warmup_runs=warmup_runs, min_runs=min_runs, min_time_s=min_time_s
        )
        results = bench_paths([Path(path)], protocol, runtime, timeout_s)
        if len(results) != 1:
            raise ValueError(f"edgekit_bench measures one artifact per call; {path} holds {len(results)}")
        result = results[0]
        if result["status"] != "ok":
            if allow_failure:
                return BenchResult(result)
            raise BenchFailed(
                f"{result['label']}: {result['error']}\n{result.get('stderr_tail') or ''}".rstrip()
            )
        if benchmark is not None:
            _feed_pytest_benchmark(benchmark, result)
        return BenchResult(result)

    return run


_KEEP = (
    "label",
    "validity",
    "validity_reasons",
    "p90_ms",
    "p99_ms",
    "cv",
    "peak_rss_kb",
    "model_size_bytes",
    "runtime",
    "host",
    "input",
)


def _feed_pytest_benchmark(fixture, result: dict) -> None:
    """Hand the measured samples to pytest-benchmark's fixture: once per test, never when disabled.

    pytest-benchmark has no public "add external samples" API. `_make_stats` is how its own
    pedantic mode registers a run (samples are per-call seconds, 1 iteration each), and `_mode`
    is what it checks to warn "Benchmark fixture was not used at all": setting it says this
    test's benchmark was the edgekit measurement.
    """
    if fixture._mode is not None:  # one set of stats per test: the first call's
        return
    fixture._mode = "edgekit_bench(...)"
    if fixture.disabled:  # --benchmark-disable: measured for the test's asserts, nothing recorded
        return
    from edgekit.bench.samples import decode_samples

    stats = fixture._make_stats(1)
    for ms in decode_samples(result):
        stats.update(float(ms) / 1000.0)
    fixture.extra_info.update({f"edgekit_{k}": result.get(k) for k in _KEEP})
