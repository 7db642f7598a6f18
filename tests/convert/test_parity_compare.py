"""The parity comparison itself: outputs that cannot be compared fail, whatever the thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.convert.parity import compare


def _reference() -> np.ndarray:
    return np.random.default_rng(0).random((16, 4)).astype(np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_outputs_that_are_not_finite_fail(bad):
    ref = _reference()
    out = ref.copy()
    out[3, 0] = bad
    result = compare(ref, out, None, "fp32")
    assert result.verdict == "fail"
    assert "1 of 64 output values are NaN or infinite" in result.reasons[0]


def test_all_nan_outputs_fail_even_where_argmax_would_agree():
    ref = _reference()
    ref[:, 0] += 10  # the reference's argmax is 0 everywhere, as argmax(NaN) would be
    result = compare(ref, np.full_like(ref, np.nan), np.zeros(16, dtype=int), "int8")
    assert result.verdict == "fail" and result.top1_agreement == 0.0


def test_a_different_shape_fails():
    ref = _reference()
    assert compare(ref, ref[:, :3], None, "fp32").verdict == "fail"


def test_identical_outputs_pass():
    ref = _reference()
    assert compare(ref, ref.copy(), None, "fp32").verdict == "pass"
