"""Builds the sdist and wheel once, and makes fresh virtual environments from them.

These tests install edgekit the way users do (plain pip from the built files, a uv project that
depends on the wheel), in environments that share nothing with the development one, and run
the installed `edgekit` from a folder outside the checkout. They download packages from the
configured index (or reuse pip's and uv's caches), so they are behind the `packaging` marker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from install_support import _FIGURES, FIGURES_FILE, REPO, ok, run

sys.path.insert(0, str(REPO / "tests" / "report"))  # synthetic.py: run folders written in code


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    ok(run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, REPO], cwd=out))
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("EDGEKIT_RECORD_FIGURES") != "1" or exitstatus != 0 or not _FIGURES:
        return
    columns = ["install", "install time", "environment size", "then"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for install, f in _FIGURES.items():
        lines.append(f"| {install} | {f.get('time', '-')} | {f.get('size', '-')} | {f.get('then', '-')} |")
    FIGURES_FILE.write_text("\n".join(lines) + "\n")
