"""The latency/accuracy Pareto front: artifacts no other artifact beats on both at once."""

from __future__ import annotations


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """POINTS are (latency, accuracy): lower latency and higher accuracy are better.

    A point is on the front unless another point is at least as good on both and strictly better
    on one. Identical points are all on the front (neither dominates the other).
    """
    on_front = []
    for i, (lat_i, acc_i) in enumerate(points):
        dominated = any(
            lat_j <= lat_i and acc_j >= acc_i and (lat_j < lat_i or acc_j > acc_i)
            for j, (lat_j, acc_j) in enumerate(points)
            if j != i
        )
        on_front.append(not dominated)
    return on_front
