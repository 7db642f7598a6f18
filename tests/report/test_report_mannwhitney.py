"""Mann-Whitney U (one-sided, new > baseline) against values computed by hand."""

import math

import numpy as np
import pytest

from edgekit.report.mannwhitney import average_ranks, mann_whitney_greater


def test_average_ranks_share_tied_positions():
    ranks, ties = average_ranks(np.array([2.0, 1.0, 2.0, 3.0, 2.0]))
    # sorted: 1 | 2 2 2 | 3 → ranks 1, (2+3+4)/3 = 3, 5
    assert ranks.tolist() == [3.0, 1.0, 3.0, 5.0, 3.0]
    assert sorted(ties.tolist()) == [1, 1, 3]


def test_no_ties_hand_computed():
    # new ranks 4+5+6 = 15 → U = 15 - 3*4/2 = 9; mean 4.5; var = 9/12 * 7 = 5.25
    # z = (9 - 4.5 - 0.5) / sqrt(5.25) = 1.745743; p = 1 - Φ(z) = 0.040428
    r = mann_whitney_greater([1, 2, 3], [4, 5, 6])
    assert r.u == 9.0
    assert r.z == pytest.approx(4 / math.sqrt(5.25))
    assert r.p_value == pytest.approx(0.040428, abs=1e-6)


def test_ties_hand_computed():
    # pooled 1 | 2 2 2 | 3 3 → ranks 1, 3, 3, 3, 5.5, 5.5; new = [2, 3, 3] → 3 + 5.5 + 5.5 = 14 → U = 8
    # tie term = (27-3 + 8-2) / (6*5) = 1 → var = 9/12 * (7 - 1) = 4.5; z = 3 / sqrt(4.5) = sqrt(2)
    # p = 1 - Φ(sqrt 2) = erfc(1) / 2 = 0.078650
    r = mann_whitney_greater([1, 2, 2], [2, 3, 3])
    assert r.u == 8.0
    assert r.z == pytest.approx(math.sqrt(2))
    assert r.p_value == pytest.approx(0.078650, abs=1e-6)


def test_one_sided_direction_and_degenerate_cases():
    assert mann_whitney_greater([4, 5, 6], [1, 2, 3]).p_value > 0.95  # faster is never "slower"
    assert mann_whitney_greater([1.0] * 5, [1.0] * 7).p_value == 1.0  # all identical: no evidence
    a, b = np.random.default_rng(0).normal(size=50), np.random.default_rng(1).normal(size=40)
    assert mann_whitney_greater(a, b).u + mann_whitney_greater(b, a).u == pytest.approx(50 * 40)
    with pytest.raises(ValueError, match="both sides"):
        mann_whitney_greater([], [1.0])
