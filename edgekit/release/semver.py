"""Semantic versions of releases: parsing, ordering, and which bump a change needs.

Rules (semver.org, applied to models): a changed input or output spec (tensor names, shapes,
dtypes, the class list) or a removed artifact breaks every consumer's firmware or code, so it
needs a major version; an added artifact or target needs at least a minor one; new weights with
the same spec are a patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgekit.errors import UsageError

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
LEVELS = ("patch", "minor", "major")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bump_level(self, previous: Version) -> str:
        """Which part grew from PREVIOUS to this version (this version must be the greater)."""
        if self.major != previous.major:
            return "major"
        return "minor" if self.minor != previous.minor else "patch"


def parse_version(text: str) -> Version:
    m = _SEMVER.match(text.strip().lstrip("v") if text else "")
    if not m:
        raise UsageError(
            f"release version {text!r} is not MAJOR.MINOR.PATCH",
            hint="e.g. --version 1.0.0 (whole numbers, no leading zeros)",
        )
    return Version(*(int(g) for g in m.groups()))


def check_bump(new: Version, previous: Version | None, needed: str, why: list[str]) -> None:
    """Refuse a version that does not grow, or grows less than the changes need."""
    if previous is None:
        return
    if new <= previous:
        raise UsageError(
            f"release {new} is not newer than the previous release {previous}",
            hint=f"use a version above {previous}",
        )
    got = new.bump_level(previous)
    if LEVELS.index(got) < LEVELS.index(needed):
        suggestion = {
            "major": f"{previous.major + 1}.0.0",
            "minor": f"{previous.major}.{previous.minor + 1}.0",
        }[needed]
        raise UsageError(
            f"release {new} is a {got} bump from {previous}, but the changes need a {needed} version: "
            + "; ".join(why),
            hint=f"release it as {suggestion}",
        )
