"""Run a loader over seeded mutants and count what happened to each case.

tried: cases run; loaded: the mutant was still a valid file; refused: an EdgekitError (the
message a user sees); crashed: any other exception; hung: the case outlived its time budget
(SIGALRM interrupts Python code; the budget is generous so a loaded machine does not count).
"""

from __future__ import annotations

import random
import signal
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from loaders import Loader
from mutator import mutate

from edgekit.errors import EdgekitError


class _Hung(BaseException):  # BaseException: a loader's `except Exception` must not swallow it
    pass


def _alarm(signum, frame):
    raise _Hung()


@dataclass
class Tally:
    loader: str
    counts: Counter = field(default_factory=Counter)
    exit_codes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # replayable descriptions of crashes and hangs

    def line(self) -> str:
        c = self.counts
        codes = ", ".join(f"exit {k}: {v}" for k, v in sorted(self.exit_codes.items()))
        return (
            f"{self.loader:16s} tried {c['tried']:6d}  loaded {c['loaded']:6d}  refused {c['refused']:6d} ({codes})  "
            f"crashed {c['crashed']}  hung {c['hung']}"
        )


def fuzz(
    loader: Loader,
    seed_bytes: bytes,
    seeds: dict,
    folder: Path,
    *,
    cases: int,
    seed: int,
    budget_s: float = 10.0,
) -> Tally:
    tally = Tally(loader.name)
    target = folder / loader.file_name
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for case in range(cases):
            rng = random.Random(f"{seed}:{loader.name}:{case}")
            data = mutate(seed_bytes, rng, loader.kind)
            target.write_bytes(data)
            tally.counts["tried"] += 1
            signal.setitimer(signal.ITIMER_REAL, budget_s)
            try:
                loader.run(target, seeds)
                tally.counts["loaded"] += 1
            except EdgekitError as exc:
                tally.counts["refused"] += 1
                tally.exit_codes[exc.exit_code] += 1
            except _Hung:
                tally.counts["hung"] += 1
                tally.failures.append(f"{loader.name} seed={seed} case={case}: hung past {budget_s} s")
            except Exception as exc:  # noqa: BLE001 - counting crashes is the point
                tally.counts["crashed"] += 1
                where = traceback.extract_tb(exc.__traceback__)[-1]
                tally.failures.append(
                    f"{loader.name} seed={seed} case={case}: {type(exc).__name__}: {str(exc)[:200]} "
                    f"at {Path(where.filename).name}:{where.lineno}"
                )
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return tally


def replay(loader: Loader, seed_bytes: bytes, seed: int, case: int) -> bytes:
    """The bytes of one case, to reproduce a failure outside the suite."""
    return mutate(seed_bytes, random.Random(f"{seed}:{loader.name}:{case}"), loader.kind)
