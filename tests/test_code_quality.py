"""The code checks, run by the test command: lint, format, layering and types, each with no findings.

Each check runs the tool from this environment (the dev group installs ruff, mypy and
import-linter) over the repository, as docs/development.md tells a contributor to, and prints the
tool's own findings when it fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _assert_clean(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        pytest.fail(f"{what} found problems (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def test_ruff_finds_nothing():
    _assert_clean(_run(sys.executable, "-m", "ruff", "check", "edgekit", "tests"), "ruff check")


def test_the_code_is_formatted():
    _assert_clean(
        _run(sys.executable, "-m", "ruff", "format", "--check", "edgekit", "tests"), "ruff format --check"
    )


def test_the_import_contracts_hold():
    # pyproject.toml [tool.importlinter]: the layers, the command modules, the estimator apart from
    # the calibration code, no import loops.
    _assert_clean(_run(str(BIN / "lint-imports"), "--no-cache"), "lint-imports")


def test_no_module_is_part_of_an_import_loop():
    """Modules importing each other in a ring, a package's __init__ included (the contracts compare
    siblings only). Imports under TYPE_CHECKING are annotations and do not count."""
    import grimp

    graph = grimp.build_graph("edgekit", cache_dir=None, exclude_type_checking_imports=True)
    loops = [sorted(ring) for ring in _rings(graph) if len(ring) > 1]
    assert not loops, "import loops:\n" + "\n".join(" <-> ".join(ring) for ring in loops)


def test_mypy_finds_nothing():
    # pyproject.toml [tool.mypy]: every function body checked; its cache (.mypy_cache) keeps reruns quick.
    _assert_clean(_run(sys.executable, "-m", "mypy"), "mypy")


def _rings(graph) -> list[set[str]]:
    """Strongly connected components of the module graph (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    rings: list[set[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                ring: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    ring.add(member)
                    if member == node:
                        break
                rings.append(ring)
    return rings
