"""Fixtures for edgekit.sources tests (helpers live in sources_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sources_support import ModelServer, build_tiny_module, folder_files, tar_gz

from edgekit.sources.base import DEFAULT_PUBLISHERS, SourceSettings


@pytest.fixture(scope="session")
def tiny_module(tmp_path_factory) -> Path:
    return build_tiny_module(tmp_path_factory.mktemp("tiny") / "module")


@pytest.fixture(scope="session")
def tiny_archive(tiny_module) -> bytes:
    return tar_gz(folder_files(tiny_module))


@pytest.fixture(scope="session")
def tiny_archive_v2(tiny_module) -> bytes:
    """Same module, different bytes: what a publisher re-upload looks like."""
    return tar_gz({**folder_files(tiny_module), "assets/NOTICE": b"re-uploaded\n"})


@pytest.fixture(scope="session")
def writer_module(tmp_path_factory) -> Path:
    return build_tiny_module(tmp_path_factory.mktemp("writer") / "module", write_file=True)


# -- server and settings -------------------------------------------------------------------------


@pytest.fixture
def server():
    srv = ModelServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No test sees the user's cache, mirrors or credentials, nor another test's."""
    for name in ("EDGEKIT_OFFLINE", "EDGEKIT_HUB_URL", "EDGEKIT_KAGGLE_URL", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


@pytest.fixture
def settings(tmp_path, server) -> SourceSettings:
    return SourceSettings(
        cache_dir=tmp_path / "cache",
        lockfile=tmp_path / "edgekit.lock",
        hub_url=server.url,
        kaggle_url=server.url,
        retry_backoff_s=0.0,
        timeout_s=10.0,
        allow_publishers=DEFAULT_PUBLISHERS,
    )
