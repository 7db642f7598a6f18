"""Thread scaling: the parallel share grows with the memory bandwidth each core that runs a thread has."""

from __future__ import annotations

import math

import pytest

from edgekit.targets import estimate, estimator, resolve_target
from edgekit.targets.fitted import load_fitted
from edgekit.targets.latency_model import PARALLEL_REFERENCE_GBS, parallel_share

from .synthetic import mobile_like


def test_the_fitted_share_holds_at_the_reference_bandwidth_and_grows_above_it():
    assert parallel_share(0.8, 0.4, PARALLEL_REFERENCE_GBS) == pytest.approx(0.8)
    assert parallel_share(0.8, 0.0, 16.0) == pytest.approx(0.8)  # no exponent: no dependence
    wide = parallel_share(0.8, 0.5, 4 * PARALLEL_REFERENCE_GBS)
    assert math.log(wide / (1 - wide)) == pytest.approx(math.log(4.0) + 0.5 * math.log(4.0))
    assert parallel_share(0.8, 0.5, PARALLEL_REFERENCE_GBS / 4) < 0.8


def test_bandwidth_per_core_is_over_the_big_cores():
    phone = resolve_target("android-mid").hardware  # 2 big + 6 little cores
    assert phone.core_bandwidth_gbs == pytest.approx(phone.mem_bandwidth_gbs / 2)
    assert resolve_target("rpi4").hardware.core_bandwidth_gbs == pytest.approx(
        resolve_target("rpi4").hardware.mem_bandwidth_gbs / 4
    )


def test_the_fitted_exponent_changes_multi_thread_estimates_only(monkeypatch):
    committed = load_fitted()
    assert (
        committed["factors"]["parallel_bandwidth_exponent"] > 0
    )  # the published rows: phones scale better than Pis
    g, phone = mobile_like(), resolve_target("android-high")
    with_term = [estimate(g, phone, quant="fp32", threads=n).latency_ms for n in (1, 4)]
    flat = {**committed, "factors": {**committed["factors"], "parallel_bandwidth_exponent": 0.0}}
    monkeypatch.setattr(estimator, "load_fitted", lambda: flat)
    without = [estimate(g, phone, quant="fp32", threads=n).latency_ms for n in (1, 4)]
    assert with_term[0] == pytest.approx(without[0])
    assert with_term[1] < without[1]  # 8.5 GB/s per big core: above the reference, so a larger parallel share
