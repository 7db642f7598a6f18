"""Pipeline steps that are easiest to check on their own."""

from types import SimpleNamespace

from edgekit.stages import Reference
from edgekit.stages.estimate import _analysis_graph
from edgekit.steps import StepLog


def test_tfjs_only_plans_get_an_analysis_graph_made_once_per_reference(tiny_reference, tmp_path):
    ctx = SimpleNamespace(run_dir=tmp_path, steps=StepLog(tmp_path))
    reference = Reference(tiny_reference, "key-1", 0.5, ["a", "b", "c"])
    path = _analysis_graph(ctx, reference)
    assert path.suffix == ".tflite" and path.parent == tmp_path / "analysis" / "tflite-fp32"
    first = path.stat().st_mtime_ns
    assert _analysis_graph(ctx, reference).stat().st_mtime_ns == first  # same reference: reused
    retrained = Reference(tiny_reference, "key-2", 0.5, ["a", "b", "c"])
    assert _analysis_graph(ctx, retrained).stat().st_mtime_ns != first  # new reference: rebuilt
