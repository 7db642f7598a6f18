"""Shared settings for the bench tests (a module, not a conftest, so test files can import it)."""

from __future__ import annotations

from edgekit.bench.measure import Protocol

# Enough runs for statistics, short enough that the whole bench suite stays fast.
QUICK = Protocol(threads=1, warmup_runs=1, min_runs=5, min_time_s=0.05)


def convert_saved(reference, fmt: str, out):
    """Convert the tiny reference to FMT fp32 and save artifact.json beside it, as the pipeline does."""
    from edgekit.convert import FORMATS, ConversionRequest

    artifact = FORMATS.get(fmt).convert(ConversionRequest(reference, fmt, "fp32", out))
    artifact.save()
    return artifact
