"""One Python load of the reference SavedModel per conversion process, shared by the converters.

TensorFlow's converters load the SavedModel with tf.saved_model.load even where they need little
from it: TFLite's `convert()` only reads its graph_debug_info (source locations for error
messages), tensorflowjs takes the serving function to freeze. A worker that converts several
quant modes, or TFLite and TF.js, loaded the same reference again for each. `loads_shared`
answers a converter's own load call from one load per process, remembered by the SavedModel's
path, the size and mtime of its saved_model.pb, and the tags; a different reference replaces it.
Converters only read the loaded object (signatures, debug info, variables to freeze).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

SERVE = frozenset({"serve"})
_loaded: dict[tuple[str, int, int, frozenset[str]], Any] = {}


def shared_load(export_dir: str | Path, tags: Any = None) -> Any:
    """tf.saved_model.load(EXPORT_DIR, TAGS), loaded once per process (in eager mode, as converters do)."""
    from tensorflow.python.eager import context
    from tensorflow.python.saved_model import load

    stat = (Path(export_dir) / "saved_model.pb").stat()
    wanted = frozenset([tags] if isinstance(tags, str) else tags or SERVE)
    key = (str(Path(export_dir).resolve()), stat.st_size, stat.st_mtime_ns, wanted)
    if key not in _loaded:
        _loaded.clear()  # one reference per process at a time: a new one replaces the last
        with context.eager_mode():
            _loaded[key] = load.load(str(export_dir), sorted(wanted))
    return _loaded[key]


@contextlib.contextmanager
def loads_shared(module: ModuleType, loader: str) -> Iterator[None]:
    """While converting: MODULE's LOADER(export_dir, tags) is answered by shared_load."""
    original = getattr(module, loader)
    setattr(module, loader, shared_load)
    try:
        yield
    finally:
        setattr(module, loader, original)
