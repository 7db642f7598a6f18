"""pytest plugin: latency checks in the user's own CI.

    def test_latency(edgekit_bench):
        result = edgekit_bench("model.tflite", threads=4)
        assert result.validity != "INVALID"
        assert result.p90_ms < 25

Each call measures in a fresh worker process (the same engine as `edgekit bench`). When
pytest-benchmark is active, the first call in a test also feeds its timed samples into the
test's `benchmark` fixture, so they land in `--benchmark-json` and the comparison table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


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


def _feed_pytest_benchmark(request: pytest.FixtureRequest, result: dict) -> None:
    if not request.config.pluginmanager.hasplugin("benchmark"):  # pytest-benchmark's pytest11 name
        return
    fixture = request.getfixturevalue("benchmark")
    if fixture.disabled or fixture.stats is not None:  # one set of stats per test: the first call's
        return
    # pytest-benchmark has no public "add external samples" API; _make_stats is how its own
    # pedantic mode registers a run. Samples are per-invoke seconds with 1 iteration each.
    from edgekit.bench.samples import decode_samples

    stats = fixture._make_stats(1)  # noqa: SLF001
    for ms in decode_samples(result):
        stats.update(float(ms) / 1000.0)
    keep = ("label", "validity", "validity_reasons", "p90_ms", "p99_ms", "cv", "peak_rss_kb", "model_size_bytes", "runtime", "host", "input")
    fixture.extra_info.update({f"edgekit_{k}": result.get(k) for k in keep})


@pytest.fixture
def edgekit_bench(request: pytest.FixtureRequest):
    """Call it with an artifact path (run dir, artifact folder, .tflite/.onnx/model.json) and options."""
    from edgekit.bench.measure import Protocol
    from edgekit.bench.runner import bench_paths

    def run(path: str | Path, threads: int = 1, runtime: str | None = None, min_runs: int = 20,
            min_time_s: float = 0.5, warmup_runs: int = 3, timeout_s: float = 600.0, allow_failure: bool = False) -> BenchResult:
        protocol = Protocol(threads=threads, warmup_runs=warmup_runs, min_runs=min_runs, min_time_s=min_time_s)
        results = bench_paths([Path(path)], protocol, runtime, timeout_s)
        if len(results) != 1:
            raise ValueError(f"edgekit_bench measures one artifact per call; {path} holds {len(results)}")
        result = results[0]
        if result["status"] != "ok":
            if allow_failure:
                return BenchResult(result)
            raise BenchFailed(f"{result['label']}: {result['error']}\n{result.get('stderr_tail') or ''}".rstrip())
        _feed_pytest_benchmark(request, result)
        return BenchResult(result)

    return run
