"""One registry shape for formats, quant modes, runtimes and targets.

Names are case-insensitive, aliases resolve to one canonical name, unknown names raise an
UnknownNameError that lists what exists and suggests the closest match.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from edgekit.errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


class Registry(Generic[T]):
    """A named collection with aliases, did-you-mean and glob listing."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # used in messages: "unknown target 'x'"
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, value: T, *, description: str = "", aliases: tuple[str, ...] = ()) -> T:
        key = name.lower()
        if key in self._entries or key in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[key] = Entry(key, value, description, tuple(a.lower() for a in aliases))
        for alias in aliases:
            self._aliases[alias.lower()] = key
        return value

    def unregister(self, name: str) -> T:
        """Remove NAME (or the entry an alias of it names) and its aliases; returns the value removed.
        For plugins registered for a while (a test's toy format), so the registry is left as found."""
        key = self.canonical(name)
        entry = self._entries.pop(key)
        for alias in entry.aliases:
            self._aliases.pop(alias, None)
        return entry.value

    def canonical(self, name: str) -> str:
        """The canonical name for NAME or an alias of it; raises UnknownNameError otherwise."""
        key = name.strip().lower()
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        raise self._unknown(name)

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)].value

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.strip().lower()
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[k] for k in self.names())

    def list(self, pattern: str = "*") -> list[Entry[T]]:
        """Entries whose name or an alias matches the glob PATTERN."""
        pattern = pattern.lower()
        return [e for e in self if any(fnmatch.fnmatchcase(n, pattern) for n in (e.name, *e.aliases))]

    def _unknown(self, name: str) -> UnknownNameError:
        known = self.names()
        candidates = known + sorted(self._aliases)
        close = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.5)
        suggestion = f" Did you mean '{close[0]}'?" if close else ""
        return UnknownNameError(
            f"unknown {self.kind} '{name}'.{suggestion}",
            hint=f"available {self.kind}s: {', '.join(known)} (see `edgekit list {self.kind}s`)",
        )
