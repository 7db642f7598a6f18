"""A real OCI registry (CNCF distribution, Debian's docker-registry) on 127.0.0.1 for the release
tests, and synthetic run folders (tests/report/synthetic.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))

CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """host:port of a registry this test session started (http, no auth, storage in a tmp folder)."""
    exe = shutil.which("docker-registry") or shutil.which("registry")
    if exe is None:
        pytest.skip("no OCI registry server: apt-get install docker-registry")
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    (root / "config.yml").write_text(CONFIG.format(root=root / "data", port=port))
    with open(root / "log.txt", "wb") as log:
        proc = subprocess.Popen(
            [exe, "serve", str(root / "config.yml")], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(proc, port, root)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait_ready(proc: subprocess.Popen, port: int, root: Path) -> None:
    """Poll /v2/ until the registry answers: a server start has no event to wait on."""
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"registry did not start: {(root / 'log.txt').read_text()[-2000:]}"
                ) from None
            time.sleep(0.1)
