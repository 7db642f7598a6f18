"""A seeded mutator: the same (seed, case) always gives the same bytes, so every failure replays.

Byte mutations (bit flips, random and boundary bytes, boundary 16/32-bit integers, deletions,
duplications, insertions, truncation) suit binary formats, whose readers trust offsets and
lengths. Structured mutations suit JSON and YAML: random bytes there mostly break the syntax and
only test the parser, so half of the text cases parse the seed, replace one value anywhere in the
tree with a hostile one (wrong type, negative, huge, NaN, deep nesting, empty), and serialize again.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from typing import Any

_BOUNDARY_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
_BOUNDARY_INTS = (
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    64,
    255,
    256,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
)


def _bit_flip(rng: random.Random, data: bytearray) -> None:
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)


def _random_bytes(rng: random.Random, data: bytearray) -> None:
    for _ in range(rng.randint(1, 16)):
        data[rng.randrange(len(data))] = rng.randrange(256)


def _boundary_byte(rng: random.Random, data: bytearray) -> None:
    data[rng.randrange(len(data))] = rng.choice(_BOUNDARY_BYTES)


def _boundary_int(rng: random.Random, data: bytearray) -> None:
    value = rng.choice(_BOUNDARY_INTS)
    if rng.random() < 0.5 and len(data) >= 4:
        i = rng.randrange(0, len(data) - 3) & ~3 if rng.random() < 0.7 else rng.randrange(0, len(data) - 3)
        data[i : i + 4] = struct.pack("<I", value & 0xFFFFFFFF)
    elif len(data) >= 2:
        i = rng.randrange(0, len(data) - 1)
        data[i : i + 2] = struct.pack("<H", value & 0xFFFF)


def _delete(rng: random.Random, data: bytearray) -> None:
    i = rng.randrange(len(data))
    del data[i : i + rng.randint(1, max(1, min(256, len(data) // 4)))]


def _duplicate(rng: random.Random, data: bytearray) -> None:
    i = rng.randrange(len(data))
    chunk = data[i : i + rng.randint(1, 128)]
    j = rng.randrange(len(data) + 1)
    data[j:j] = chunk


def _insert(rng: random.Random, data: bytearray) -> None:
    j = rng.randrange(len(data) + 1)
    data[j:j] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))


def _truncate(rng: random.Random, data: bytearray) -> None:
    del data[rng.randrange(len(data)) :]


BYTE_OPS: tuple[Callable[[random.Random, bytearray], None], ...] = (
    _bit_flip,
    _random_bytes,
    _boundary_byte,
    _boundary_int,
    _boundary_int,
    _delete,
    _duplicate,
    _insert,
    _truncate,
)


def mutate_bytes(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
        if not data:
            data.extend(b"\0")
        rng.choice(BYTE_OPS)(rng, data)
    return bytes(data)


def _hostile_value(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            1,
            -(2**63),
            2**64,
            10**400,
            1e308,
            -1e308,
            float("nan"),
            float("inf"),
            0.5,
            -0.5,
            "",
            "x",
            "../../etc/passwd",
            "\u202e",
            "a" * 5000,
            [],
            [None],
            [[[[[[[[[[]]]]]]]]]],
            {},
            {"": None},
            {"a": [1, 2, 3]},
            list(range(50)),
        ]
    )


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:20]):  # long sample lists: the first entries are enough
            out += _paths(v, prefix + (i,))
    return out


def mutate_tree(tree: Any, rng: random.Random) -> Any:
    """A copy of TREE with 1-3 values (or keys) replaced, removed or retyped."""
    tree = json.loads(json.dumps(tree))
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = _paths(tree)
        where = rng.choice(paths)
        if not where:
            tree = _hostile_value(rng) if rng.random() < 0.2 else tree
            continue
        parent = tree
        for key in where[:-1]:
            parent = parent[key]
        key = where[-1]
        action = rng.random()
        if action < 0.6:
            parent[key] = _hostile_value(rng)
        elif action < 0.8 and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, dict):
            parent[rng.choice(["", "zzz", "__proto__", str(rng.random())])] = parent.pop(key)
        else:
            parent[key] = [parent[key]] * rng.randint(0, 3)
    return tree


def mutate(seed: bytes, rng: random.Random, kind: str) -> bytes:
    """One mutant of SEED. KIND: 'binary', 'json' or 'yaml'."""
    if kind == "binary" or rng.random() < 0.5:
        return mutate_bytes(seed, rng)
    if kind == "json":
        return json.dumps(mutate_tree(json.loads(seed), rng)).encode()
    import yaml

    text = yaml.safe_dump(mutate_tree(yaml.safe_load(seed), rng), allow_unicode=True)
    return text.encode()
