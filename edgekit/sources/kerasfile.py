"""Refuse Keras models whose loading would run code stored in, or named by, the file.

Keras serializes a Lambda layer as Python bytecode, and a config may name any module and class
for deserialization to import. Both run code when the model is loaded, so we read the config
(config.json in a .keras zip, keras_metadata.pb in a tf_keras SavedModel) as plain JSON, never
deserializing it, and refuse: Lambda layers, serialized lambdas, classes from modules outside
Keras, and custom registered objects.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from edgekit.errors import SourceError, UnsafeModelError

_KERAS_ROOTS = {"keras", "tf_keras", "tensorflow"}
_MAX_CONFIG_BYTES = 64 << 20


def keras_config_problems(config: Any) -> list[str]:
    """Why loading CONFIG (a Keras model config as JSON data) would run foreign code."""
    problems: set[str] = set()
    todo = [config]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        cls = node.get("class_name")
        cfg = node.get("config")
        if cls == "Lambda":  # its function is the problem named here; no need to report it again
            name = node.get("name") or (cfg.get("name") if isinstance(cfg, dict) else None)
            problems.add(f"Lambda layer {name!r} (runs Python code stored in the file)")
            continue
        todo.extend(node.values())
        if cls == "__lambda__" or node.get("function_type") == "lambda":
            problems.add("a serialized Python lambda (runs code stored in the file)")
        module = node.get("module")
        if isinstance(module, str) and cls and module.split(".", 1)[0] not in _KERAS_ROOTS:
            problems.add(f"class {cls!r} from module {module!r} (loading would import code outside Keras)")
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            problems.add(f"custom object {registered!r} (needs Python code that is not in the file)")
    return sorted(problems)


def keras_file_problems(path: Path) -> list[str]:
    """Problems of a .keras zip, read from its config.json without deserializing anything."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("config.json")
            if info.file_size > _MAX_CONFIG_BYTES:
                return [f"config.json is {info.file_size} bytes (more than {_MAX_CONFIG_BYTES})"]
            config = json.loads(zf.read(info))
    except KeyError:
        raise SourceError(f"{path} is not a Keras v3 file: it has no config.json") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(f"{path} is not a readable .keras file: {exc}") from None
    return keras_config_problems(config)


def check_keras_file(path: Path) -> None:
    problems = keras_file_problems(path)
    if problems:
        raise UnsafeModelError(
            f"{path.name} refused: loading it would run code: {'; '.join(problems)}",
            hint="rebuild the model without Lambda layers or custom classes, or export it as a SavedModel (model.export(dir))",
        )


def keras_metadata_problems(saved_model_dir: Path) -> list[str]:
    """Problems in a tf_keras SavedModel's keras_metadata.pb (none when the file is absent)."""
    meta = Path(saved_model_dir) / "keras_metadata.pb"
    if not meta.is_file():
        return []
    from tf_keras.protobuf import saved_metadata_pb2

    proto = saved_metadata_pb2.SavedMetadata()
    try:
        proto.ParseFromString(meta.read_bytes())
    except Exception as exc:  # protobuf's DecodeError derives from Exception only
        return [f"keras_metadata.pb does not parse: {exc}"]
    problems: set[str] = set()
    for node in proto.nodes:
        try:
            config = json.loads(node.metadata)
        except ValueError:
            continue  # non-JSON metadata carries no config to deserialize
        problems.update(keras_config_problems(config))
    return sorted(problems)
