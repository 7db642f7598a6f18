"""Host benchmarks measured in the real runtimes: protocol, statistics, validity, result schema.

The public entry points are light to import; each measurement runs in a fresh worker process.
"""

from edgekit.bench.measure import Protocol
from edgekit.bench.runner import bench_paths, bench_target
from edgekit.bench.samples import decode_samples
from edgekit.bench.stats import LatencyStats, summarize, validity

__all__ = [
    "Protocol",
    "bench_paths",
    "bench_target",
    "decode_samples",
    "LatencyStats",
    "summarize",
    "validity",
]
