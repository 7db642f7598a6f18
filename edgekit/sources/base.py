"""The result of resolving a source, as every later step sees it, and the settings that steer it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HUB_URL = "https://tfhub.dev"
DEFAULT_KAGGLE_URL = "https://www.kaggle.com"
DEFAULT_PUBLISHERS = ("google", "tensorflow", "keras")
LOCKFILE_NAME = "edgekit.lock"

_TRUE = {"1", "true", "yes", "on"}


@dataclass
class ModuleInfo:
    """What training and calibration need to feed the module correctly."""

    input_size: tuple[int, int]  # (height, width) the module expects
    value_range: tuple[float, float] = (0.0, 1.0)  # TF Hub image convention: float in [0, 1]
    output_dim: int | None = None  # feature vector length, when known
    origin: str = "signature"  # where these facts came from: "signature" | "catalogue" | "recipe"


@dataclass
class SourceSettings:
    """Everything that steers resolving a source. Explicit values win over the environment.

    The environment variables (EDGEKIT_CACHE, EDGEKIT_OFFLINE, EDGEKIT_HUB_URL,
    EDGEKIT_KAGGLE_URL) are read by the accessor methods, not at construction, so a settings
    object built before a test changes the environment still sees the change.
    """

    cache_dir: Path | None = None
    lockfile: Path | None = None  # default: <base_dir>/edgekit.lock when resolve_source gets a base_dir
    offline: bool = False
    allow_publishers: tuple[str, ...] = DEFAULT_PUBLISHERS
    extra: dict[str, Any] = field(default_factory=dict)
    hub_url: str | None = None  # base URL of tfhub.dev or a mirror
    kaggle_url: str | None = None  # base URL of www.kaggle.com or a mirror
    allow_unpinned: bool = False  # accept handles without a version (the resolved one is recorded)
    allow_unsafe_ops: bool = False  # load modules whose graph has file-system/process ops (recorded)
    accept_new_hash: bool = False  # accept bytes that differ from the lockfile and re-record them
    update_lock: bool = True  # record new sources in the lockfile
    upgrade: bool = False  # re-resolve unpinned handles instead of reusing the locked version
    input_size: tuple[int, int] | None = None  # recipe override of the module's input size
    value_range: tuple[float, float] | None = None  # recipe override of the module's value range
    timeout_s: float = 60.0  # per socket operation, not per download
    retries: int = 3  # download attempts in total
    retry_backoff_s: float = 1.0  # first pause between attempts; doubles each time
    # Archive limits; None: EDGEKIT_ARCHIVE_MAX_ENTRIES / _MAX_BYTES / _MAX_RATIO, else the
    # defaults in extract.py (20,000 entries, 16 GiB unpacked, 100x compression ratio).
    max_archive_entries: int | None = None
    max_extracted_bytes: int | None = None
    max_compression_ratio: float | None = None

    @classmethod
    def from_recipe(cls, section: Any, recipe_dir: Path | None = None, **overrides: Any) -> SourceSettings:
        """Settings from a recipe's `source:` section (duck-typed: any object with its fields)."""
        values: dict[str, Any] = {
            "allow_publishers": tuple(getattr(section, "allow_publishers", DEFAULT_PUBLISHERS)),
            "allow_unpinned": bool(getattr(section, "allow_unpinned", False)),
            "allow_unsafe_ops": bool(getattr(section, "allow_unsafe_ops", False)),
            "hub_url": getattr(section, "hub_url", None),
            "kaggle_url": getattr(section, "kaggle_url", None),
            "input_size": _tuple_or_none(getattr(section, "input_size", None)),
            "value_range": _tuple_or_none(getattr(section, "value_range", None)),
        }
        if recipe_dir is not None:
            values["lockfile"] = Path(recipe_dir) / LOCKFILE_NAME
        values.update(overrides)
        return cls(**values)

    def cache_root(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir).expanduser()
        from edgekit.paths import cache_root

        return cache_root()

    def is_offline(self) -> bool:
        return self.offline or os.environ.get("EDGEKIT_OFFLINE", "").strip().lower() in _TRUE

    def hub_base(self) -> str:
        return (self.hub_url or os.environ.get("EDGEKIT_HUB_URL") or DEFAULT_HUB_URL).rstrip("/")

    def kaggle_base(self) -> str:
        return (self.kaggle_url or os.environ.get("EDGEKIT_KAGGLE_URL") or DEFAULT_KAGGLE_URL).rstrip("/")

    def publishers(self) -> frozenset[str]:
        return frozenset(p.strip().lower() for p in self.allow_publishers if p.strip())


def _tuple_or_none(value: Any) -> tuple | None:
    return tuple(value) if value is not None else None


@dataclass
class ResolvedSource:
    spec: str  # what the user wrote
    canonical: str  # one id per model, whatever the spelling
    kind: str  # local | tfhub | kaggle | keras | demo
    path: Path  # local SavedModel folder, ready for hub.KerasLayer
    sha256: str  # hash of the module's files
    info: ModuleInfo
    notes: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)  # provenance: url, version, archive hash, scan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d
