"""`check` on REAL measurements: one TFLite model benchmarked 10 times with edgekit's protocol.

Never flagged when nothing changed; flagged when a 30 % slowdown is injected into the runtime.
Marked `perf` (run with `-m perf` on a quiet machine): on a shared 2-core box with other test
suites running, back-to-back runs can drift by 10-15 % (the load changes, not the model).
tests/perf/test_gate.py measures the gate's false-positive and detection rates over 20 pairs.
The deterministic version of this test, on synthetic samples, is in test_report_check.py.
"""

import copy
import time

import numpy as np
import pytest
from synthetic import bench_entry, make_report

from edgekit.bench.measure import Protocol, measure
from edgekit.report.check import Thresholds, compare_reports

pytest.importorskip("ai_edge_litert")
pytestmark = pytest.mark.perf


@pytest.fixture(scope="module")
def tflite_model() -> bytes:
    import tensorflow as tf

    w = tf.constant(np.random.default_rng(0).normal(size=(768, 768)).astype(np.float32) / 28)

    @tf.function(input_signature=[tf.TensorSpec([1, 768], tf.float32)])
    def f(x):
        for _ in range(6):
            x = tf.nn.relu(tf.matmul(x, w))
        return x

    return tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()


class Session:
    """The runtime session interface edgekit.bench.measure drives; EXTRA_MS spins after each invoke."""

    def __init__(self, model: bytes, extra_ms: float = 0.0):
        from ai_edge_litert.interpreter import Interpreter

        self.interp, self.extra_ms = Interpreter(model_content=model, num_threads=1), extra_ms
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]["index"]

    def prepare(self, x):
        return x

    def invoke(self, x):
        self.interp.set_tensor(self.inp, x)
        self.interp.invoke()
        end = time.perf_counter() + self.extra_ms / 1000.0
        while time.perf_counter() < end:  # the injected slowdown: busy, like slower kernels
            pass

    def info(self):
        return {"runtime": "litert"}

    def close(self):
        pass


def _report(samples) -> dict:
    r = make_report()
    r["artifacts"] = [copy.deepcopy(r["artifacts"][0])]
    r["artifacts"][0]["bench"] = bench_entry(samples)
    return r


def test_ten_real_runs_never_flagged_injected_slowdown_flagged(tflite_model):
    x = np.random.default_rng(1).normal(size=(1, 768)).astype(np.float32)
    protocol = Protocol(warmup_runs=20, min_runs=150, min_time_s=0.15)
    run = lambda extra=0.0: measure(lambda: Session(tflite_model, extra), x, protocol).samples_ms  # noqa: E731
    run()  # discard the first run: page-ins and cache warm-up are not what the gate is about
    baseline = _report(run())
    median = float(np.median(baseline["artifacts"][0]["bench"]["samples_ms"]))
    intervals = []
    for _ in range(10):
        result = compare_reports(_report(run()), baseline, Thresholds())
        finding = next(f for f in result.findings if f.metric == "latency p50")
        intervals.append((round(finding.ci_low, 3), round(finding.ci_high, 3)))
        assert not finding.regression, (finding, intervals)
    slow = compare_reports(_report(run(extra=0.3 * median)), baseline, Thresholds())
    finding = next(f for f in slow.findings if f.metric == "latency p50")
    print(
        f"median {median:.4f} ms; identical runs: ratio intervals {intervals}; "
        f"30% slowdown: change {finding.change}, interval {finding.ci_low:.3f}-{finding.ci_high:.3f}"
    )
    assert finding.regression and finding.ci_low > 1.10
