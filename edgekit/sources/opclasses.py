"""Which TensorFlow ops reach outside the computation: classified from their OpDef, not by hand.

Every op TensorFlow registers is described by an OpDef (its name, whether it is stateful, its
typed inputs and attributes). `classify` looks at those and answers with the class of side effect
the op can have, or None when nothing in its definition points outside the graph:

- files: reads or writes files (readers, writers, checkpoints, summaries, debug dumps, file names
  as inputs or attributes);
- network: talks to other processes, hosts or devices (RPC, data service, collectives, send/recv,
  TPU and distributed runtime ops, addresses as inputs);
- code: runs code the graph does not contain as ops (Python functions, compiled XLA/TPU programs);
- pipeline: input pipelines (datasets, iterators, queues, staging areas, sessions), which open
  files and run arbitrary functions when the model is called;
- strings: any other stateful op that takes strings (a file name or an address the class rules
  did not recognise by name).

The rules are deliberately broad: an op they wrongly flag is simply not on the allowlist, while an
op they miss would still have to appear in a real architecture to be allowed. Enumerating the
registry needs TensorFlow; classifying an OpDef does not (anything with the OpDef fields works).
"""

from __future__ import annotations

import re
from typing import Any

CLASSES: dict[str, str] = {
    "files": "reads or writes files",
    "network": "talks to other processes, hosts or devices",
    "code": "runs code that is not in the graph (Python or compiled programs)",
    "pipeline": "input pipeline op (datasets, iterators, queues) that can open files and run functions",
    "strings": "stateful op taking strings (file names or addresses)",
}

_CODE_TOKENS = {"Compile", "Execute", "Launch"}
_NETWORK_TOKENS = {
    "Rpc",
    "Collective",
    "Nccl",
    "Send",
    "Recv",
    "Remote",
    "Distributed",
    "Infeed",
    "Outfeed",
    "Heartbeat",
    "Service",
    "Register",
    "Replica",
    "TPU",
    "DTensor",
    "Host",
    "Hosts",
    "Coordination",
    "Mesh",
}
_FILE_TOKENS = {
    "File",
    "Files",
    "Reader",
    "Writer",
    "Save",
    "Saver",
    "Restore",
    "Checkpoint",
    "Checkpoints",
    "Record",
    "LMDB",
    "Sql",
    "CSV",
    "Event",
    "Debug",
    "Dump",
    "Vocab",
    "Immutable",
    "Load",
    "Cache",
    "Snapshot",
    "Fdo",
}
_PIPELINE_TOKENS = {
    "Dataset",
    "Datasets",
    "Iterator",
    "Queue",
    "Stage",
    "Unstage",
    "Accumulator",
    "Session",
    "Barrier",
    "Prefetch",
}
# String inputs that carry a file name, a glob or a directory.
_PATH_INPUTS = {
    "filename",
    "filenames",
    "file_pattern",
    "patterns",
    "path",
    "prefix",
    "logdir",
    "db_uri",
    "directory",
    "ckpt_path",
    "new_vocab_file",
    "old_vocab_file",
    "checkpoint_prefixes",
    "destination_prefix",
    "snapshot_path",
    "chunk_file",
    "shard_dir",
    "data_source_name",
}
# String attributes that name a file, a URL or a stream outside the process.
_PATH_ATTRS = {
    "output_stream",
    "descriptor_source",
    "memory_region_name",
    "debug_urls",
    "dump_root",
    "file_path",
    "filename",
    "vocab_filename",
    "logdir",
}
_ADDRESS_INPUTS = {"address", "server_address", "target", "protocol", "request"}
_CODE_ATTRS = {"token", "module", "function_list"}  # PyFunc's registry key, XlaCallModule's program
_DT_STRING = 7  # tensorflow.core.framework.types_pb2.DT_STRING


def tokens(op: str) -> list[str]:
    """CamelCase words of an op name: 'TFRecordDatasetV2' → ['TF', 'Record', 'Dataset', 'V', '2']."""
    return re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|\d+", op.lstrip("_"))


def _string_inputs(op_def: Any) -> set[str]:
    return {a.name for a in op_def.input_arg if a.type == _DT_STRING}


def _attrs(op_def: Any, kind: str) -> set[str]:
    return {a.name for a in op_def.attr if a.type == kind}


def classify(op_def: Any) -> str | None:
    """The side-effect class of OP_DEF (a key of CLASSES), or None when its definition shows none."""
    name = op_def.name
    words = set(tokens(name))
    first = tokens(name)[:1]
    strings = _string_inputs(op_def)
    if ({"Py", "Func"} <= words) or (words & _CODE_TOKENS) or ("Xla" in words and words & {"Run", "Module"}):
        return "code"
    if op_def.is_stateful and _attrs(op_def, "string") & _CODE_ATTRS:
        return "code"
    if words & _NETWORK_TOKENS or {"All", "To"} <= words or strings & _ADDRESS_INPUTS:
        return "network"
    if words & _FILE_TOKENS or first == ["Write"] or strings & _PATH_INPUTS:
        return "files"
    if _attrs(op_def, "string") & _PATH_ATTRS or _attrs(op_def, "list(string)") & _PATH_ATTRS:
        return "files"
    if words & _PIPELINE_TOKENS or {"input_dataset", "iterator"} & {a.name for a in op_def.input_arg}:
        return "pipeline"
    if op_def.is_stateful and strings:
        return "strings"
    return None


def registry_op_defs() -> list[Any]:
    """Every OpDef registered with the TensorFlow installed here (imports TensorFlow)."""
    import tensorflow  # noqa: F401  (registers the core ops)
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    buffer = c_api.TF_GetAllOpList()
    ops = op_def_pb2.OpList()
    ops.ParseFromString(c_api.TF_GetBuffer(buffer))
    return sorted(ops.op, key=lambda o: o.name)
