"""One bounded YAML reader for every YAML file edgekit loads (recipes, device profiles, devices.yaml).

`yaml.safe_load` refuses to build arbitrary objects, but it is not bounded: a few hundred bytes
of nested aliases ("billion laughs") expand to billions of nodes once anything walks the result,
deeply nested brackets end in RecursionError, and bytes that are not UTF-8 end in
UnicodeDecodeError. Here the file size is checked before reading, the text must be UTF-8 (a
UTF-16/32 file or a stray byte is an error naming the file and the offset), nesting depth is
checked while composing, and the expanded size of the node graph (aliases and merge keys counted
as the copies they become) is checked before anything is constructed. Every failure is the
caller's error class (a UsageError subclass, so exit 2) naming the file.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from edgekit.errors import UsageError

MAX_BYTES = 1 << 20  # 1 MiB: the largest YAML edgekit ships is 8 KB
MAX_DEPTH = 32  # recipes and profiles nest 4 levels deep
MAX_NODES = 100_000  # after alias expansion

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class _TooDeep(Exception):
    pass


def _bounded_loader(max_depth: int) -> type[yaml.SafeLoader]:
    class BoundedLoader(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent: Node | None, index: Any) -> Node:
            # PyYAML composes recursively: bound the depth here, before Python's stack is at risk.
            self._depth += 1
            try:
                if self._depth > max_depth:
                    mark = self.peek_event().start_mark
                    raise _TooDeep(f"nested more than {max_depth} levels deep (line {mark.line + 1})")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return BoundedLoader


def read_text(
    path: Path, *, what: str, error: type[UsageError] = UsageError, max_bytes: int = MAX_BYTES
) -> str:
    """PATH's text, refused (as ERROR) when it is too big or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(
                f"{path}: {what} is {size} bytes, more than the {max_bytes} a {what} may have",
                hint=f"is this really a {what}?",
            )
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}", hint="check the path") from None
    except IsADirectoryError:
        raise error(
            f"{path}: a {what} is a file, but this is a folder", hint="give the YAML file inside it"
        ) from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # grew since stat, or a special file that reports no size
        raise error(f"{path}: {what} is more than {max_bytes} bytes", hint=f"is this really a {what}?")
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise error(
                f"{path}: {what} is encoded as {name}; edgekit reads YAML as UTF-8",
                hint="save the file as UTF-8 (most editors: 'Save with encoding')",
            )
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 byte-order mark is harmless
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{path}: {what} is not UTF-8 text: byte {data[exc.start : exc.start + 1]!r} at offset {exc.start} (line {line})",
            hint="save the file as UTF-8",
        ) from None
    if "\x00" in text:  # UTF-16 without a byte-order mark decodes as ASCII with NULs between
        raise error(
            f"{path}: {what} contains NUL bytes (UTF-16 without a byte-order mark, or a binary file)",
            hint="save the file as UTF-8",
        )
    return text


def parse(
    text: str,
    *,
    origin: str,
    error: type[UsageError] = UsageError,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """TEXT parsed as one YAML document with bounded depth and alias expansion."""
    try:
        loader = _bounded_loader(max_depth)(text)  # the reader refuses control characters right here
    except yaml.YAMLError as exc:
        raise error(f"{origin}: not valid YAML: {exc}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, max_depth, max_nodes)
        return loader.construct_document(node)
    except _TooDeep as why:
        raise error(f"{origin}: {why}", hint="flatten the YAML; no edgekit file nests this deep") from None
    except yaml.YAMLError as exc:
        raise error(f"{origin}: not valid YAML: {exc}") from None
    except RecursionError:  # belt and braces: the bounds above should make this unreachable
        raise error(f"{origin}: YAML nested too deeply to read") from None
    finally:
        loader.dispose()


def load(
    path: Path,
    *,
    what: str,
    error: type[UsageError] = UsageError,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """The YAML file PATH, read within all the bounds; WHAT names it in messages ("recipe")."""
    path = Path(path)
    text = read_text(path, what=what, error=error, max_bytes=max_bytes)
    return parse(text, origin=str(path), error=error, max_depth=max_depth, max_nodes=max_nodes)


def _check_expansion(root: Node, max_depth: int, max_nodes: int) -> None:
    """Count ROOT's nodes as construction will see them: an alias is a full copy of its anchor."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) → (expanded node count, height)
    on_path: set[int] = set()

    def visit(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        known = sizes.get(key)
        if known is None:
            if key in on_path:
                raise _TooDeep(
                    f"an alias refers to itself (line {node.start_mark.line + 1}); recursive YAML is not accepted"
                )
            if depth > max_depth:
                raise _TooDeep(
                    f"nested more than {max_depth} levels deep once aliases are expanded (line {node.start_mark.line + 1})"
                )
            on_path.add(key)
            count, height = 1, 1
            children: list[Node] = []
            if isinstance(node, SequenceNode):
                children = list(node.value)
            elif isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            for child in children:
                c, h = visit(child, depth + 1)
                count += c
                height = max(height, h + 1)
                if count > max_nodes:
                    raise _TooDeep(
                        f"expands to more than {max_nodes} values (aliases of aliases, line "
                        f"{node.start_mark.line + 1}); this looks like a 'billion laughs' file"
                    )
            on_path.discard(key)
            known = sizes[key] = (count, height)
        if depth + known[1] - 1 > max_depth:
            raise _TooDeep(
                f"nested more than {max_depth} levels deep once aliases are expanded (line {node.start_mark.line + 1})"
            )
        return known

    visit(root, 1)
