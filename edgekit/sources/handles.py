"""Parse what a user writes as a source into one typed handle with one canonical id.

Spellings accepted (see docs/sources.md):
    https://tfhub.dev/<publisher>/<path...>/<version>          tfhub:<publisher>/<path...>/<version>
    https://www.kaggle.com/models/<owner>/<model>/<framework>/<variation>/<version>
    https://www.kaggle.com/models/<o>/<m>/frameworks/<f>/variations/<v>/versions/<n>   (Kaggle page URL)
    <owner>/<model>/<framework>/<variation>/<version>           kaggle:<owner>/<model>/...
    keras:<Application>[?size=160&alpha=0.35]                   keras.applications architecture
    <path>                                                      SavedModel folder, .tar.gz/.tgz/.tar, .keras
    demo:<name>                                                 the bundled demo backbone
    oci://<host>[:<port>]/<repo>:<X.Y.Z>                        a signed edgekit release (sources/oci.py)

A tfhub.dev handle listed in the catalogue becomes its Kaggle handle, so both spellings share one
canonical id and one cache entry. Parsing never touches the network.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from edgekit.errors import SourceError, UsageError
from edgekit.sources import catalogue
from edgekit.sources.base import SourceSettings
from edgekit.sources.handle_types import (
    FRAMEWORK_SPELLING,
    DemoHandle,
    Handle,
    HubHandle,
    KaggleHandle,
    KerasAppHandle,
    LocalHandle,
    OciHandle,
    RemoteHandle,
)

# The handle types are part of this module's interface: callers parse and match in one import.
__all__ = [
    "DemoHandle",
    "Handle",
    "HubHandle",
    "KaggleHandle",
    "KerasAppHandle",
    "LocalHandle",
    "OciHandle",
    "RemoteHandle",
    "parse_handle",
]

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
TFHUB_HOSTS = {"tfhub.dev", "www.tfhub.dev"}
KAGGLE_HOSTS = {"kaggle.com", "www.kaggle.com"}
_FORMS_HINT = (
    "use https://tfhub.dev/<publisher>/<model>/<version>, "
    "<owner>/<model>/<framework>/<variation>/<version> (Kaggle), keras:<Application>, "
    "or a local SavedModel folder / .tar.gz / .keras file"
)


def parse_handle(
    spec: str, settings: SourceSettings | None = None, *, base_dir: Path | None = None
) -> Handle:
    """One typed handle for SPEC. Raises UsageError for malformed specs, SourceError for missing paths."""
    settings = settings or SourceSettings()
    text = spec.strip()
    if not text:
        raise UsageError("empty source handle", hint=_FORMS_HINT)
    lowered = text.lower()
    if lowered.startswith("demo:"):
        return DemoHandle(text)
    if lowered.startswith("oci://"):  # a release published with `edgekit release push`
        from edgekit.sources.oci import parse_oci_handle

        return parse_oci_handle(text)
    if lowered.startswith("keras:"):
        from edgekit.sources.keras_apps import parse_keras_handle

        return parse_keras_handle(text)
    if lowered.startswith("tfhub:"):
        return _hub_from_path(text[len("tfhub:") :], spec)
    if lowered.startswith("kaggle:"):
        return _kaggle_from_path(text[len("kaggle:") :], spec)
    if lowered.startswith(("http://", "https://")):
        return _from_url(text, spec, settings)
    local = _local_path(text, base_dir)
    if local is not None:
        return local
    where = (Path(base_dir) / text) if base_dir and not Path(text).is_absolute() else Path(text)
    if re.fullmatch(r"[^/\\:]+(/[^/\\:]+){3,4}", text) and not text.endswith(_ARCHIVE_SUFFIXES + (".keras",)):
        try:
            return _kaggle_from_path(text, spec)
        except UsageError as exc:  # looked like a short Kaggle handle; say both readings failed
            raise SourceError(
                f"source {spec!r}: no such file or folder ({where}), and not a Kaggle handle: {exc.message}",
                hint=_FORMS_HINT,
            ) from None
    if text.endswith(_ARCHIVE_SUFFIXES + (".keras",)) or "/" in text or "\\" in text:
        raise SourceError(f"source {spec!r}: no such file or folder: {where}", hint=_FORMS_HINT)
    raise UsageError(f"cannot understand source {spec!r}", hint=_FORMS_HINT)


def _local_path(text: str, base_dir: Path | None) -> LocalHandle | None:
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.exists():
        return None
    path = path.resolve()
    if path.is_dir():
        return LocalHandle(path, "folder")
    name = path.name.lower()
    if name.endswith(_ARCHIVE_SUFFIXES):
        return LocalHandle(path, "archive")
    if name.endswith(".keras"):
        return LocalHandle(path, "keras")
    raise SourceError(
        f"source {text!r}: {path} is a file edgekit cannot use as a model",
        hint="give a SavedModel folder, a .tar.gz of one, or a .keras file",
    )


def _from_url(text: str, spec: str, settings: SourceSettings) -> Handle:
    url = urlsplit(text)
    host = url.netloc.lower()
    path = url.path.strip("/")
    hub, kaggle = urlsplit(settings.hub_base()), urlsplit(settings.kaggle_base())
    if host in KAGGLE_HOSTS or host == kaggle.netloc.lower():
        rel = _strip_prefix(path, kaggle.path.strip("/")) if host == kaggle.netloc.lower() else path
        if rel is not None and rel.startswith("models/"):
            return _kaggle_from_url_path(rel[len("models/") :], spec)
    if host in TFHUB_HOSTS or host == hub.netloc.lower():
        rel = _strip_prefix(path, hub.path.strip("/")) if host == hub.netloc.lower() else path
        if rel is not None:
            return _hub_from_path(rel, spec)
    raise UsageError(
        f"source {spec!r}: not a tfhub.dev or Kaggle Models URL",
        hint=f"{_FORMS_HINT}; for a mirror, set EDGEKIT_HUB_URL / EDGEKIT_KAGGLE_URL (or source.hub_url / kaggle_url)",
    )


def _strip_prefix(path: str, prefix: str) -> str | None:
    if not prefix:
        return path
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :].strip("/")
    return None


def _segments(path: str, spec: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    for part in parts:
        if not _SEGMENT.match(part) or part in {".", ".."}:
            raise UsageError(
                f"source {spec!r}: invalid path segment {part!r}",
                hint="segments are letters, digits, '_', '-', '.'",
            )
    return parts


def _split_version(parts: list[str]) -> tuple[list[str], int | None]:
    if parts and parts[-1].isdigit():
        return parts[:-1], int(parts[-1])
    return parts, None


def _hub_from_path(path: str, spec: str) -> RemoteHandle:
    parts, version = _split_version(_segments(path, spec))
    if len(parts) < 2:
        raise UsageError(
            f"source {spec!r}: a tfhub.dev handle is <publisher>/<model...>/<version>", hint=_FORMS_HINT
        )
    hub_path = "/".join(parts)
    entry = catalogue.by_tfhub(hub_path)
    if entry is not None:
        owner, model, framework, variation = entry.kaggle.split("/")
        return KaggleHandle(owner, model, framework, variation, version, spelled="tfhub")
    # Publishers are case-insensitive on tfhub.dev; keep the rest as written (paths are case-sensitive).
    first, rest = hub_path.split("/", 1)
    return HubHandle(f"{first.lower()}/{rest}", version)


def _kaggle_from_url_path(path: str, spec: str) -> KaggleHandle:
    parts = _segments(path, spec)
    # Page URL form: <o>/<m>/frameworks/<f>/variations/<v>[/versions/<n>]
    if len(parts) >= 6 and parts[2].lower() == "frameworks" and parts[4].lower() == "variations":
        tail = parts[6:]
        if tail and (len(tail) != 2 or tail[0].lower() != "versions"):
            raise UsageError(
                f"source {spec!r}: expected .../versions/<n> after the variation", hint=_FORMS_HINT
            )
        parts = [parts[0], parts[1], parts[3], parts[5], *tail[1:]]
    return _kaggle_from_parts(parts, spec)


def _kaggle_from_path(path: str, spec: str) -> KaggleHandle:
    return _kaggle_from_parts(_segments(path, spec), spec)


def _kaggle_from_parts(parts: list[str], spec: str) -> KaggleHandle:
    parts, version = _split_version(parts)
    if len(parts) != 4:
        raise UsageError(
            f"source {spec!r}: a Kaggle model handle is <owner>/<model>/<framework>/<variation>/<version>",
            hint=_FORMS_HINT,
        )
    owner, model, framework, variation = parts
    framework = framework.lower()
    if framework not in FRAMEWORK_SPELLING:
        raise UsageError(
            f"source {spec!r}: framework {parts[2]!r} is not a TensorFlow SavedModel",
            hint="edgekit pulls the tensorFlow2 (or tensorFlow1) variation of a Kaggle model",
        )
    # Kaggle slugs are lowercase; the canonical id must not depend on how the user capitalized them.
    return KaggleHandle(owner.lower(), model.lower(), framework, variation.lower(), version)
