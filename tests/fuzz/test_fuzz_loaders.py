"""Every loader of user-supplied files, fed seeded mutants of a valid file: 0 crashes, 0 hangs.

The default run tries a quick sample (40 cases per loader); `pytest -m fuzz tests/fuzz -s` tries
10,000 per loader and prints the tally; with EDGEKIT_RECORD_FIGURES=1 it also writes the tally to
docs/snippets/fuzz-figures.md, which the development docs include. A failure names the loader,
seed and case; `engine.replay` rebuilds those bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from engine import fuzz
from loaders import LOADERS

QUICK_CASES = 40
FULL_CASES = 10_000
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "fuzz-figures.md"
HEADER = "| loader | tried | loaded | refused with a typed error | exit codes of the refusals | crashed | hung |\n|---|---|---|---|---|---|---|\n"


def _check(tally) -> None:
    print(tally.line())
    assert tally.counts["crashed"] == 0 and tally.counts["hung"] == 0, "\n".join(tally.failures[:20])
    assert tally.counts["refused"] > 0  # the mutants do reach the error paths


@pytest.fixture(autouse=True)
def _quiet_environment(monkeypatch, tmp_path):
    for name in ("EDGEKIT_ARCHIVE_MAX_ENTRIES", "EDGEKIT_ARCHIVE_MAX_BYTES", "EDGEKIT_ARCHIVE_MAX_RATIO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", list(LOADERS))
def test_quick_sample_of_mutants_gives_typed_errors_only(name, seeds, tmp_path):
    _check(fuzz(LOADERS[name], seeds[name], seeds, tmp_path, cases=QUICK_CASES, seed=1))


@pytest.mark.fuzz
@pytest.mark.parametrize("name", list(LOADERS))
def test_ten_thousand_mutants_give_typed_errors_only(name, seeds, tmp_path):
    tally = fuzz(LOADERS[name], seeds[name], seeds, tmp_path, cases=FULL_CASES, seed=2)
    if os.environ.get("EDGEKIT_RECORD_FIGURES") == "1":
        _record(tally)
    _check(tally)


def _record(tally) -> None:
    """This loader's row in the figures table, the other loaders' rows kept."""
    rows = {}
    if FIGURES.is_file():
        for line in FIGURES.read_text().splitlines()[2:]:
            if line.startswith("| "):
                rows[line.split("|")[1].strip()] = line
    c = tally.counts
    codes = ", ".join(f"{code}: {n:,}" for code, n in sorted(tally.exit_codes.items()))
    rows[tally.loader] = (
        f"| {tally.loader} | {c['tried']:,} | {c['loaded']:,} | {c['refused']:,} | {codes} | {c['crashed']} | {c['hung']} |"
    )
    FIGURES.write_text(HEADER + "".join(rows[n] + "\n" for n in LOADERS if n in rows))
