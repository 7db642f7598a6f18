"""Fuzz suite support: importable helpers and the seed files, built once per session."""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "report"))  # synthetic.py: schema-valid reports and run folders


@pytest.fixture(scope="session")
def seeds(tmp_path_factory) -> dict:
    from loaders import build_seeds

    return build_seeds(tmp_path_factory.mktemp("fuzz-seeds"))
