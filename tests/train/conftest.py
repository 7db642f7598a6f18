"""Fixtures for the training engine: a tiny hub-format backbone built in code, once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import build_tiny_module


@pytest.fixture(scope="session")
def tiny_module(tmp_path_factory) -> Path:
    return build_tiny_module(tmp_path_factory.mktemp("tiny_module") / "module")
