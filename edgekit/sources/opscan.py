"""Refuse SavedModels whose graph does anything but compute, before anything loads them.

A SavedModel is a graph, and a graph can read and write files, start readers and datasets, talk
to other hosts or run Python (PyFunc). We parse saved_model.pb as a protobuf (nothing is loaded or
run) and look at every node of every meta graph and of every function in its library.

The scan is an allowlist: an op passes only when it is in op_allowlist.json, the ops of real
architectures and of the converters that no rule of `opclasses` puts in a side-effect class
(regenerate it with `python -m edgekit.sources.opallowlist_build`). Every other op is refused by
name, with the reason the file records for it. Reading the allowlist needs no TensorFlow.

Checkpoint ops (SaveV2, RestoreV2, MergeV2Checkpoints, ...) are part of every SavedModel: the
saver that restores `variables/` uses them. They are allowed only where the saver_def puts them
(the functions only the saver calls, or the saver's nodes of the main graph) and only when their
file prefix comes from the saver's filename input; anywhere else they are refused like any other
file access.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import SourceError, UnsafeModelError
from edgekit.sources.metadata import read_saved_model_proto
from edgekit.sources.scan_memo import remembered

CHECKPOINT_OPS = {
    "Save",
    "SaveSlices",
    "SaveV2",
    "Restore",
    "RestoreSlice",
    "RestoreV2",
    "MergeV2Checkpoints",
}
ALLOWLIST_PATH = Path(__file__).with_name("op_allowlist.json")


@dataclass(frozen=True)
class OpAllowlist:
    """The generated op_allowlist.json: allowed ops, and why every other registered op is refused."""

    allowed: frozenset[str]
    refused: dict[str, str]  # op → class key
    classes: dict[str, str]  # class key → what ops of that class do
    tensorflow: str

    def reason(self, op: str) -> str:
        if op in self.refused:
            return self.classes[self.refused[op]]
        return f"not an op TensorFlow {self.tensorflow} knows (custom kernel or unknown)"


@functools.cache
def load_allowlist(path: Path = ALLOWLIST_PATH) -> OpAllowlist:
    """Read the allowlist (plain JSON: no TensorFlow needed)."""
    try:
        doc = json.loads(Path(path).read_text())
        return OpAllowlist(
            frozenset(doc["allowed"]), dict(doc["refused"]), dict(doc["classes"]), str(doc["tensorflow"])
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(
            f"edgekit's op allowlist {path} is missing or damaged ({exc}); no model can be scanned without it",
            hint="reinstall edgekit-ml, or regenerate it with `python -m edgekit.sources.opallowlist_build`",
        ) from None


# Inputs of checkpoint ops that are file names (the rest are tensor names and data).
_PATH_INPUTS = {
    "Save": (0,),
    "SaveSlices": (0,),
    "SaveV2": (0,),
    "Restore": (0,),
    "RestoreSlice": (0,),
    "RestoreV2": (0,),
    "MergeV2Checkpoints": (0, 1),
}


@dataclass(frozen=True)
class Finding:
    op: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.op} ({self.reason}) at {self.where}"


@dataclass
class ScanReport:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    nodes: int = 0
    functions: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def ops(self) -> list[str]:
        return sorted({f.op for f in self.findings})

    def describe(self, limit: int = 12) -> str:
        lines = [str(f) for f in self.findings[:limit]]
        more = len(self.findings) - limit
        return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "functions": self.functions,
            "findings": [f.__dict__ for f in self.findings],
        }

    @classmethod
    def from_dict(cls, path: Path, data: dict[str, Any]) -> ScanReport:
        """The report to_dict() wrote for the module at PATH; KeyError/TypeError/ValueError when it is not one."""
        findings = [Finding(str(f["op"]), str(f["where"]), str(f["reason"])) for f in data["findings"]]
        return cls(path, findings, int(data["nodes"]), int(data["functions"]))


def _name(ref: str) -> str:
    """'node:out:0' / 'node:0' / '^node' / 'arg' → the node or argument name."""
    return ref.lstrip("^").split(":", 1)[0]


def _func_refs(node: Any, library: set[str]) -> set[str]:
    refs = {node.op} & library  # a function called directly as an op
    for value in node.attr.values():
        if value.HasField("func"):
            refs.add(value.func.name)
        refs.update(f.name for f in value.list.func)
    return refs & library


def _closure(start: Iterable[str], calls: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(calls.get(name, ()))
    return seen


def _ancestors(roots: Iterable[str], nodes: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in nodes]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(n for n in (_name(i) for i in nodes[name].input) if n in nodes)
    return seen


def _attr_str(node: Any, key: str) -> str:
    return node.attr[key].s.decode(errors="replace") if key in node.attr else ""


def _suspicious_const(node: Any) -> str | None:
    for raw in node.attr["value"].tensor.string_val if "value" in node.attr else ():
        text = raw.decode(errors="replace")
        if (
            ".." in text
            or text.startswith(("/", "\\"))
            or "://" in text
            or (len(text) > 1 and text[1] == ":")
        ):
            return text
    return None


def _prefix_problem(node: Any, nodes: dict[str, Any], anchors: set[str]) -> str | None:
    """Why NODE's file-name inputs do not come from the saver's filename (None: they do)."""
    for index in _PATH_INPUTS[node.op]:
        data_inputs = [i for i in node.input if not i.startswith("^")]
        if index >= len(data_inputs):
            return "file name input missing"
        seen: set[str] = set()
        todo = [_name(data_inputs[index])]
        reached = False
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in anchors:
                reached = True
                continue
            source = nodes.get(name)
            if source is None:
                continue
            if source.op == "Const" and (bad := _suspicious_const(source)):
                return f"file name built from the constant {bad!r}"
            todo.extend(_name(i) for i in source.input if not i.startswith("^"))
        if not reached:
            return "file name does not come from the saver's filename input"
    return None


def _detail(node: Any) -> str:
    """Where the node's own attributes say it would write or read (PrintV2, DecodeProtoV2, ...)."""
    for key in ("output_stream", "descriptor_source"):
        value = _attr_str(node, key)
        if value.startswith("file://") or (key == "descriptor_source" and value not in ("", "local://")):
            return f": {key} {value!r}"
    return ""


class _Scanner:
    def __init__(self, path: Path, allowlist: OpAllowlist) -> None:
        self.report = ScanReport(path)
        self.allowlist = allowlist

    def add(self, op: str, where: str, reason: str) -> None:
        self.report.findings.append(Finding(op, where, reason))

    def node(self, node: Any, where: str, library: set[str], checkpoint_ok: str | None) -> None:
        """CHECKPOINT_OK: None when checkpoint ops are allowed here, else why they are not."""
        op = node.op
        self.report.nodes += 1
        if op in library:  # a call of a library function, whose body is scanned on its own
            return
        if op in CHECKPOINT_OPS:
            if checkpoint_ok is not None:
                self.add(
                    op, where, f"checkpoint file access outside the variables checkpoint ({checkpoint_ok})"
                )
        elif op not in self.allowlist.allowed:
            self.add(op, where, self.allowlist.reason(op) + _detail(node))

    def meta_graph(self, mg: Any, label: str) -> None:
        graph = mg.graph_def
        functions = {f.signature.name: f for f in graph.library.function}
        library = set(functions)
        self.report.functions += len(functions)
        nodes = {n.name: n for n in graph.node}
        calls = {
            name: set().union(*(_func_refs(n, library) for n in f.node_def)) for name, f in functions.items()
        }

        saver_nodes: set[str] = set()
        filename_node = ""
        if mg.HasField("saver_def"):
            sd = mg.saver_def
            filename_node = _name(sd.filename_tensor_name)
            saver_nodes = _ancestors([_name(sd.save_tensor_name), _name(sd.restore_op_name)], nodes)
        saver_refs = (
            set().union(*(_func_refs(nodes[n], library) for n in saver_nodes)) if saver_nodes else set()
        )
        model_refs = set().union(*(_func_refs(n, library) for n in graph.node if n.name not in saver_nodes))
        model_refs |= set(mg.object_graph_def.concrete_functions) & library
        model_funcs = _closure(model_refs, calls)
        saver_only = _closure(saver_refs, calls) - model_funcs

        for node in graph.node:
            ok = None if node.name in saver_nodes else "not part of the saver"
            if ok is None and node.op in CHECKPOINT_OPS:
                ok = _prefix_problem(node, nodes, {filename_node})
            self.node(node, f"{label}graph node {node.name!r}", library, ok)
        for name, func in functions.items():
            body = {n.name: n for n in func.node_def}
            args = {a.name for a in func.signature.input_arg}
            for node in func.node_def:
                ok = None if name in saver_only else "in a function the model calls"
                if ok is None and node.op in CHECKPOINT_OPS:
                    ok = _prefix_problem(node, body, args)
                self.node(node, f"{label}function {name!r} node {node.name!r}", library, ok)


def scan_saved_model(path: Path, allowlist: OpAllowlist | None = None) -> ScanReport:
    """Every op of PATH/saved_model.pb that is not on the allowlist, without loading it."""
    path = Path(path)
    sm = read_saved_model_proto(path)
    scanner = _Scanner(path, allowlist or load_allowlist())
    several = len(sm.meta_graphs) > 1
    for mg in sm.meta_graphs:
        label = f"meta graph [{','.join(mg.meta_info_def.tags)}] " if several else ""
        scanner.meta_graph(mg, label)
    return scanner.report


def saved_model_ops(path: Path) -> set[str]:
    """The op names used anywhere in PATH/saved_model.pb (calls of library functions excluded)."""
    ops: set[str] = set()
    for mg in read_saved_model_proto(Path(path)).meta_graphs:
        library = {f.signature.name for f in mg.graph_def.library.function}
        ops.update(n.op for n in mg.graph_def.node)
        for func in mg.graph_def.library.function:
            ops.update(n.op for n in func.node_def)
        ops -= library
    return ops


def _scan_graph_and_metadata(path: Path) -> ScanReport:
    from edgekit.sources.kerasfile import keras_metadata_problems

    report = scan_saved_model(path)
    for problem in keras_metadata_problems(path):
        report.findings.append(Finding("Keras", "keras_metadata.pb", problem))
    return report


def check_saved_model(path: Path, *, allow_unsafe_ops: bool, what: str) -> ScanReport:
    """Scan PATH (ops and Keras metadata); refuse findings unless ALLOW_UNSAFE_OPS."""
    report = remembered(
        path, ALLOWLIST_PATH.read_bytes(), _scan_graph_and_metadata, ScanReport.to_dict, ScanReport.from_dict
    )
    if report.findings and not allow_unsafe_ops:
        raise UnsafeModelError(
            f"{what} refused: its graph uses ops outside edgekit's allowlist of pure computation: "
            f"{report.describe()}",
            hint="only if you trust its publisher, pass --allow-unsafe-ops (recipe: source.allow_unsafe_ops: true); "
            "the override is recorded in the lockfile and the run manifest",
        )
    return report
