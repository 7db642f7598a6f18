"""Releases in OCI registries (ORAS artifacts): push, list, fetch.

One OCI manifest per release: release.json is the config blob (media type
application/vnd.edgekit.release.v1+json), every file of the release folder a layer named by its
org.opencontainers.image.title, and the manifest's annotations carry the version, targets, quant
modes and hashes, so `edgekit release list` (or `oras manifest fetch`) reads them without
downloading a bundle. Fetching downloads into memory, checks each blob's digest, the signature
and every hash, and only then writes the release folder.

Registries on a loopback address are spoken to over plain http (as docker does); others over
https unless --plain-http (or EDGEKIT_OCI_PLAIN_HTTP=1, which `edgekit pull oci://…` also reads).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import IntegrityError, SourceError, UsageError
from edgekit.release.store import (
    NOTES,
    RELEASE_JSON,
    SIGNATURE_JSON,
    Release,
    load_meta,
    verify_files,
)

MEDIA_CONFIG = "application/vnd.edgekit.release.v1+json"
MEDIA = {
    RELEASE_JSON: "application/vnd.edgekit.release.v1+json",
    SIGNATURE_JSON: "application/vnd.edgekit.signature.v1+json",
    NOTES: "text/markdown",
}
MEDIA_BUNDLE = "application/vnd.edgekit.bundle.v1.tar+gzip"
TITLE = "org.opencontainers.image.title"
PREFIX = "dev.edgekit.release"
MAX_FETCH_BYTES = int(os.environ.get("EDGEKIT_FETCH_MAX_BYTES", str(4 * 1024**3)))
_REF = re.compile(
    r"^oci://(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?/(?P<repo>[a-z0-9]+(?:[._\-/][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}))?$"
)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
REF_HINT = "write oci://HOST[:PORT]/REPO[:X.Y.Z], e.g. oci://registry.example.com/team/classifier:1.2.0"


@dataclass(frozen=True)
class OciRef:
    host: str  # with :port when given
    repo: str
    tag: str | None

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repo}"

    def __str__(self) -> str:
        return f"oci://{self.name}" + (f":{self.tag}" if self.tag else "")


def parse_ref(text: str, *, need_tag: bool) -> OciRef:
    m = _REF.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not an OCI reference", hint=REF_HINT)
    host = m["host"] + (f":{m['port']}" if m["port"] else "")
    if need_tag and not m["tag"]:
        raise UsageError(f"{text} names no version", hint=f"add the release version: {text}:X.Y.Z")
    return OciRef(host, m["repo"], m["tag"])


def _registry(ref: OciRef, plain_http: bool):
    import oras.provider
    import requests

    insecure = (
        plain_http
        or ref.host.rsplit(":", 1)[0] in LOOPBACK
        or ref.host in LOOPBACK
        or os.environ.get("EDGEKIT_OCI_PLAIN_HTTP", "").strip().lower() in {"1", "true", "yes"}
    )
    scheme = "http" if insecure else "https"
    try:  # fail fast: the ORAS client retries for minutes on a refused connection
        requests.get(f"{scheme}://{ref.host}/v2/", timeout=10)
    except requests.RequestException as exc:
        raise SourceError(
            f"cannot reach the registry {scheme}://{ref.host}: {type(exc).__name__}",
            hint="check the host and port; registries without TLS need --plain-http",
        ) from None
    return oras.provider.Registry(hostname=ref.host, insecure=insecure)


def _call(what: str, fn, *args, **kwargs):
    import requests

    try:
        return fn(*args, **kwargs)
    except (requests.RequestException, ValueError) as exc:
        text = str(exc).splitlines()[0][:300]
        raise SourceError(f"{what} failed: {text}") from None


def manifest_annotations(release: Release) -> dict[str, str]:
    meta = release.meta
    targets = meta.get("targets", {})
    arts = [(t, n, a) for t in sorted(targets) for n, a in sorted(targets[t]["artifacts"].items())]
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(meta["created_unix"]))
    return {
        "org.opencontainers.image.title": meta["name"],
        "org.opencontainers.image.version": meta["version"],
        "org.opencontainers.image.created": created,
        f"{PREFIX}.version": meta["version"],
        f"{PREFIX}.targets": ",".join(sorted(targets)),
        f"{PREFIX}.quant-modes": ",".join(sorted({a["quant"] for _, _, a in arts})),
        f"{PREFIX}.formats": ",".join(sorted({a["format"] for _, _, a in arts})),
        f"{PREFIX}.release-sha256": hashlib.sha256(release.files[RELEASE_JSON]).hexdigest(),
        f"{PREFIX}.artifacts": ";".join(f"{t}/{n}=sha256:{a['sha256']}" for t, n, a in arts),
        f"{PREFIX}.bundles": ";".join(
            f"{n}=sha256:{r['sha256']}" for n, r in sorted(meta["files"].items()) if n.endswith(".tar.gz")
        ),
        f"{PREFIX}.reference": (
            f"{meta['reference']['file']}=sha256:{meta['files'][meta['reference']['file']]['sha256']}"
            if meta.get("reference")
            else ""
        ),
        f"{PREFIX}.signer": release.signer or "",
        f"{PREFIX}.previous": meta.get("previous") or "",
    }


def push(release: Release, ref: OciRef, plain_http: bool = False) -> dict[str, str]:
    """Upload RELEASE (already verified) as REF; returns the manifest annotations."""
    if ref.tag is not None and ref.tag != release.meta["version"]:
        raise UsageError(
            f"{ref} is tagged {ref.tag} but the release is version {release.meta['version']}",
            hint=f"push it as oci://{ref.name}:{release.meta['version']} (or leave the tag out)",
        )
    ref = OciRef(ref.host, ref.repo, release.meta["version"])
    registry = _registry(ref, plain_http)
    notes = manifest_annotations(release)
    with tempfile.TemporaryDirectory(prefix="edgekit-push-") as tmp:
        paths = []
        for name, data in sorted(release.files.items()):
            (Path(tmp) / name).write_bytes(data)
            paths.append(f"{Path(tmp) / name}:{MEDIA.get(name, MEDIA_BUNDLE)}")
        _call(
            f"pushing {ref}",
            registry.push,
            target=f"{ref.name}:{ref.tag}",
            files=paths,
            disable_path_validation=True,
            manifest_config=f"{Path(tmp) / RELEASE_JSON}:{MEDIA_CONFIG}",
            manifest_annotations=notes,
            quiet=True,
        )
    return notes


def list_releases(ref: OciRef, plain_http: bool = False) -> list[dict[str, Any]]:
    """One row per tag of REF's repository: its annotations (newest version first)."""
    from edgekit.release.semver import parse_version

    registry = _registry(ref, plain_http)
    tags = _call(f"listing {ref}", registry.get_tags, registry.get_container(ref.name))
    rows = []
    for tag in tags:
        manifest = _call(
            f"reading {ref.name}:{tag}", registry.get_manifest, registry.get_container(f"{ref.name}:{tag}")
        )
        rows.append({"tag": tag, **(manifest.get("annotations") or {})})

    def order(row: dict) -> tuple:
        try:
            return (1, parse_version(row["tag"]))
        except UsageError:
            return (0, row["tag"])

    return sorted(rows, key=order, reverse=True)


def download(ref: OciRef, plain_http: bool = False) -> dict[str, bytes]:
    """Every layer of REF, by title, in memory, each checked against its digest and size."""
    registry = _registry(ref, plain_http)
    container = registry.get_container(f"{ref.name}:{ref.tag}")
    manifest = _call(f"reading {ref}", registry.get_manifest, container)
    layers = manifest.get("layers") or []
    total = sum(int(layer.get("size", 0)) for layer in layers)
    if total > MAX_FETCH_BYTES:
        raise SourceError(
            f"{ref} is {total} bytes, more than the {MAX_FETCH_BYTES} edgekit fetches",
            hint="raise EDGEKIT_FETCH_MAX_BYTES if you expect a release this large",
        )
    files: dict[str, bytes] = {}
    for layer in layers:
        title = (layer.get("annotations") or {}).get(TITLE, "")
        if not title or "/" in title or "\\" in title or title.startswith(".") or title in files:
            raise IntegrityError(
                f"{ref}: layer {layer.get('digest')} has an unsafe or repeated name {title!r}"
            )
        resp = _call(f"downloading {title} from {ref}", registry.get_blob, container, layer["digest"])
        if resp.status_code != 200:
            raise SourceError(f"downloading {title} from {ref} failed: HTTP {resp.status_code}")
        data = resp.content
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest != layer["digest"] or len(data) != int(layer.get("size", -1)):
            raise IntegrityError(
                f"{ref}: {title} has digest {digest} ({len(data)} bytes) but the manifest says "
                f"{layer['digest']} ({layer.get('size')} bytes)"
            )
        files[title] = data
    return files


def fetch(
    ref: OciRef, trusted: list, out: Path, plain_http: bool = False, allow_unsigned: bool = False
) -> tuple[Release, Path]:
    """Download, verify (signature by a trusted key, every hash, every bundle), then write
    <out>/<name>/<version>/. Nothing is written when any check fails."""
    from edgekit.release.build import write_folder

    files = download(ref, plain_http)
    release = verify_files(files, trusted, str(ref), allow_unsigned=allow_unsigned)
    meta = load_meta(files[RELEASE_JSON], str(ref))
    if meta["version"] != ref.tag:
        raise IntegrityError(
            f"{ref}: the tag says {ref.tag} but the signed release.json says version {meta['version']}",
            hint="the tag was moved to another release; ask the publisher",
        )
    folder = out / meta["name"] / meta["version"]
    if folder.exists():
        raise UsageError(f"{folder} already exists", hint="remove it, or fetch into another --out folder")
    return release, write_folder(out / meta["name"], meta["version"], files)
