"""The steps of `edgekit convert`, one function each; edgekit/pipeline.py runs them in order.

A run, step by step, and the module each step lives in:

- source (`source.py`): the recipe's model handle resolved to a local model.
- data (`data.py`): the images loaded and split (PreparedData).
- train (`train.py`): the source fine-tuned and exported as the reference (Reference).
- convert (`convert.py`): one artifact per planned row, in worker processes.
- parity (`parity.py`): each artifact's outputs against the reference's.
- bench (`bench.py`): each artifact measured on this host.
- device (`device.py`, `convert --device` only): the artifacts measured on the user's devices.
- estimate (`estimate.py`): the target's latency band, peak RAM and fit verdict.
- report (`report.py`): the report written.

`common.py` holds what several steps use. The pipeline looks each step up on this package when it
runs it (`stages.train_step(...)`), so a test may replace a step here.
"""

from edgekit.stages.bench import bench_step
from edgekit.stages.convert import convert_step
from edgekit.stages.data import MIN_CALIBRATION_WARNING, PreparedData, data_step
from edgekit.stages.device import device_bench_step
from edgekit.stages.estimate import estimate_step
from edgekit.stages.parity import parity_step
from edgekit.stages.report import report_step
from edgekit.stages.source import resolve_source_step
from edgekit.stages.train import Reference, train_step

__all__ = [
    "MIN_CALIBRATION_WARNING",
    "PreparedData",
    "Reference",
    "bench_step",
    "convert_step",
    "data_step",
    "device_bench_step",
    "estimate_step",
    "parity_step",
    "report_step",
    "resolve_source_step",
    "train_step",
]
