"""Errors of the executors."""

from __future__ import annotations

from edgekit.errors import EdgekitError


class ClusterError(EdgekitError):
    """The Ray cluster could not be reached or joined (exit code 1)."""
