"""Sources: resolve a handle (local path, Hub/Kaggle handle, keras: name) to a verified local SavedModel."""

from edgekit.sources.base import ModuleInfo, ResolvedSource, SourceSettings
from edgekit.sources.resolve import resolve_source

__all__ = ["ModuleInfo", "ResolvedSource", "SourceSettings", "resolve_source"]
