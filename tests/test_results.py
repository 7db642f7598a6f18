"""The rows' typed step results, the registry's unregister and outside plugins (EDGEKIT_PLUGINS)."""

from __future__ import annotations

import pytest

from edgekit.bench.result import failed_result
from edgekit.errors import UsageError
from edgekit.plugins import load_plugins
from edgekit.registry import Registry
from edgekit.results import BenchResult, ParityResult


def _parity(**extra) -> ParityResult:
    return ParityResult(16, 0.999, 0.01, 0.002, 1.0, 0.75, 0.75, "pass", [], **extra)


def test_parity_round_trips_and_writes_micro_and_worst_layers_only_when_set():
    plain = _parity()
    assert set(plain.to_dict()) == {
        "samples", "cosine", "max_abs_err", "mean_abs_err", "top1_agreement",
        "accuracy", "reference_accuracy", "verdict", "reasons",
    }  # fmt: skip
    assert ParityResult.from_dict(plain.to_dict()) == plain
    full = _parity(micro={"verdict": "pass"}, worst_layers=[{"layer": "conv", "rmse": 0.1}])
    assert ParityResult.from_dict(full.to_dict()) == full
    full.fail("TFLite Micro disagrees with LiteRT")
    assert not full.passed and full.to_dict()["reasons"] == ["TFLite Micro disagrees with LiteRT"]


@pytest.mark.parametrize(
    "record",
    [{"verdict": "pass"}, {**_parity().to_dict(), "surprise": 1}, {**_parity().to_dict(), "reasons": "x"}],
)
def test_a_parity_record_that_is_not_one_is_refused(record):
    with pytest.raises((KeyError, TypeError, ValueError)):
        ParityResult.from_dict(record)


def test_bench_result_keeps_the_whole_record():
    record = failed_result(
        "tflite-fp32", {"path": "/a", "format": "tflite"}, {"threads": 2}, "litert", "boom"
    )
    result = BenchResult.from_dict(record)
    assert (result.status, result.ok, result.error, result.validity) == ("failed", False, "boom", "FAILED")
    assert result.to_dict() == record and result.to_dict() is not record
    device = BenchResult.from_dict({**record, "status": "ok", "p50_ms": 3.5, "device": {"name": "pi"}})
    assert device.ok and device.p50_ms == 3.5 and device.device == "pi"
    with pytest.raises(ValueError, match="not a bench result"):
        BenchResult.from_dict({"status": "maybe"})


def test_unregister_removes_the_name_and_its_aliases():
    reg: Registry[int] = Registry("format")
    reg.register("tflite", 1, aliases=("litert",))
    assert reg.unregister("LiteRT") == 1
    assert "tflite" not in reg and "litert" not in reg and reg.names() == []
    reg.register("tflite", 2, aliases=("litert",))  # free again
    assert reg.get("litert") == 2


def test_a_plugin_that_cannot_be_loaded_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("EDGEKIT_PLUGINS", "edgekit_no_such_plugin:register")
    with pytest.raises(
        UsageError, match="EDGEKIT_PLUGINS: cannot load plugin 'edgekit_no_such_plugin:register'"
    ):
        load_plugins()
    monkeypatch.setenv("EDGEKIT_PLUGINS", "edgekit.errors:no_such_function")
    with pytest.raises(UsageError, match="no_such_function"):
        load_plugins()
