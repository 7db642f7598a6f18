"""The typed source handles, and the helpers the parsers of each spelling share.

handles.py parses what a user writes into one of these; keras_apps.py and oci.py parse their own
spellings; the resolvers (remote.py, local.py, builders.py, resolve.py) take them. Kept apart from
the parsers so that a parser and the types it returns never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl

from edgekit.errors import UsageError
from edgekit.sources.base import SourceSettings

# Kaggle's framework slugs are case-insensitive; URLs use this spelling.
FRAMEWORK_SPELLING = {"tensorflow2": "tensorFlow2", "tensorflow1": "tensorFlow1"}


@dataclass(frozen=True)
class HubHandle:
    """A tfhub.dev module that the catalogue does not map to Kaggle."""

    path: str  # publisher/model/... without the version
    version: int | None
    spelled: str = "tfhub"
    kind = "tfhub"

    @property
    def publisher(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def pinned(self) -> bool:
        return self.version is not None

    @property
    def unpinned_canonical(self) -> str:
        return f"tfhub:{self.path}"

    @property
    def canonical(self) -> str:
        return f"tfhub:{self.path}/{self.version}" if self.pinned else self.unpinned_canonical

    def with_version(self, version: int) -> HubHandle:
        return replace(self, version=version)

    def download_url(self, settings: SourceSettings) -> str:
        # tfhub.dev answers ?tf-hub-format=compressed with the module as a .tar.gz.
        return f"{settings.hub_base()}/{self.path}/{self.version}?tf-hub-format=compressed"


@dataclass(frozen=True)
class KaggleHandle:
    owner: str
    model: str
    framework: str  # lowercase
    variation: str
    version: int | None
    spelled: str = "kaggle"  # "tfhub" when the user wrote a tfhub.dev handle the catalogue mapped
    kind = "kaggle"

    @property
    def publisher(self) -> str:
        return self.owner

    @property
    def pinned(self) -> bool:
        return self.version is not None

    @property
    def variation_path(self) -> str:
        return f"{self.owner}/{self.model}/{self.framework}/{self.variation}"

    @property
    def unpinned_canonical(self) -> str:
        return f"kaggle:{self.variation_path}"

    @property
    def canonical(self) -> str:
        return f"{self.unpinned_canonical}/{self.version}" if self.pinned else self.unpinned_canonical

    def with_version(self, version: int) -> KaggleHandle:
        return replace(self, version=version)

    def _api_path(self) -> str:
        fw = FRAMEWORK_SPELLING.get(self.framework, self.framework)
        return f"{self.owner}/{self.model}/{fw}/{self.variation}"

    def download_url(self, settings: SourceSettings) -> str:
        # Answers with a redirect to a signed, expiring storage URL that serves a .tar.gz.
        return f"{settings.kaggle_base()}/api/v1/models/{self._api_path()}/{self.version}/download"

    def version_url(self, settings: SourceSettings) -> str:
        # GetModelInstance: JSON whose "versionNumber" is the current version.
        return f"{settings.kaggle_base()}/api/v1/models/{self._api_path()}/get"


@dataclass(frozen=True)
class KerasAppHandle:
    app: str  # canonical spelling, e.g. MobileNetV2
    size: tuple[int, int]
    options: tuple[tuple[str, str], ...] = ()  # sorted (name, value) pairs, e.g. (("alpha", "0.35"),)
    kind = "keras"
    publisher = "keras"
    pinned = True  # the architecture is code in the locked tf_keras wheel

    @property
    def canonical(self) -> str:
        opts = dict(self.options)
        opts["size"] = f"{self.size[0]}x{self.size[1]}"
        query = "&".join(f"{k}={v}" for k, v in sorted(opts.items()))
        return f"keras:{self.app}?{query}"


@dataclass(frozen=True)
class LocalHandle:
    path: Path  # absolute
    form: str  # folder | archive | keras
    kind = "local"


@dataclass(frozen=True)
class DemoHandle:
    spec: str
    kind = "demo"


@dataclass(frozen=True)
class OciHandle:
    """A signed edgekit release: oci://HOST[:PORT]/REPO:X.Y.Z (parsed and resolved by oci.py)."""

    host: str
    repo: str
    tag: str
    kind = "oci"
    pinned = True

    @property
    def canonical(self) -> str:
        return f"oci://{self.host}/{self.repo}:{self.tag}"

    @property
    def publisher(self) -> str:
        return f"{self.host}/{self.repo}"


Handle = HubHandle | KaggleHandle | KerasAppHandle | LocalHandle | DemoHandle | OciHandle
RemoteHandle = HubHandle | KaggleHandle


def query_options(query: str, spec: str) -> dict[str, str]:
    """k=v&k=v → dict, refusing repeats, so `keras:` options read like a URL query."""
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    out: dict[str, str] = {}
    for key, value in pairs:
        key = key.strip().lower()
        if key in out:
            raise UsageError(f"source {spec!r}: option {key!r} given twice", hint="give each option once")
        out[key] = value.strip()
    return out
