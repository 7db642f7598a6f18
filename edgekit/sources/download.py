"""HTTP downloads with the standard library: stream to a file, hash on the fly, detect truncation.

A download is complete only when the byte count equals Content-Length (http.client returns a
short read without raising when a server drops the connection, so we count ourselves) and, when
the storage server states one, the MD5 in `x-goog-hash` matches. Anything else raises
TransientError so the caller can retry from the start: for Kaggle, retrying from the API URL also
fetches a fresh signed storage URL, since the old one may have expired.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit import __version__
from edgekit.errors import SourceError

_CHUNK = 1 << 16
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class TransientError(SourceError):
    """A failure worth retrying: dropped connection, timeout, 5xx, expired signed URL."""


@dataclass
class Downloaded:
    path: Path
    sha256: str
    size: int
    final_url: str  # after redirects; for Kaggle, the signed storage URL


def _request(url: str, auth: str | None) -> urllib.request.Request:
    req = urllib.request.Request(url, headers={"User-Agent": f"edgekit/{__version__}"})
    if auth:
        # Unredirected: urllib drops it when following the redirect to the storage host, so
        # credentials for the API never reach a third party.
        req.add_unredirected_header("Authorization", auth)
    return req


def kaggle_auth() -> str | None:
    """Basic auth from KAGGLE_USERNAME / KAGGLE_KEY, for models that need accepted terms."""
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if not (user and key):
        return None
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


def _open(url: str, timeout_s: float, auth: str | None):
    try:
        return urllib.request.urlopen(_request(url, auth), timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        raise _http_error(url, exc) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientError(f"cannot reach {url}: {reason}") from None


def _http_error(url: str, exc: urllib.error.HTTPError) -> SourceError:
    final = exc.geturl() or url
    where = url if final == url else f"{url} (redirected to {final.split('?')[0]})"
    # A 403 after a redirect is a signed storage URL that expired: a fresh attempt gets a new one.
    if exc.code in _RETRY_STATUS or (exc.code == 403 and final != url):
        return TransientError(f"HTTP {exc.code} {exc.reason} from {where}")
    if exc.code == 404:
        return SourceError(f"not found (HTTP 404): {where}", hint="check the handle's spelling and version")
    if exc.code in (401, 403):
        return SourceError(
            f"access refused (HTTP {exc.code}): {where}",
            hint="for Kaggle models that need accepted terms, set KAGGLE_USERNAME and KAGGLE_KEY",
        )
    return SourceError(f"HTTP {exc.code} {exc.reason} from {where}")


def download_file(
    url: str,
    dest: Path,
    *,
    timeout_s: float = 60.0,
    auth: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Downloaded:
    """Stream URL into DEST (created or truncated). Raises TransientError on any truncation.
    PROGRESS, when given, is called with (bytes so far, Content-Length or None) after every chunk."""
    with _open(url, timeout_s, auth) as resp:
        expected = resp.headers.get("Content-Length")
        total = int(expected) if expected is not None and expected.isdigit() else None
        goog_md5 = _goog_md5(resp.headers.get_all("x-goog-hash") or [])
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        try:
            with open(dest, "wb") as fh:
                while chunk := resp.read(_CHUNK):
                    fh.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
                    if progress is not None:
                        progress(size, total)
                fh.flush()
                os.fsync(fh.fileno())
        except (TimeoutError, http.client.HTTPException, OSError) as exc:
            raise TransientError(f"download of {url} broke after {size} bytes: {exc}") from None
        final_url = resp.geturl()
    if expected is not None and expected.isdigit() and size != int(expected):
        raise TransientError(
            f"connection to {final_url.split('?')[0]} closed after {size} of {expected} bytes"
        )
    if goog_md5 is not None and md5.hexdigest() != goog_md5:
        raise TransientError(
            f"download of {url} is corrupt: storage says md5 {goog_md5}, received {md5.hexdigest()}"
        )
    return Downloaded(dest, sha.hexdigest(), size, final_url)


def _goog_md5(values: list[str]) -> str | None:
    """The MD5 a Google Cloud Storage server states in `x-goog-hash: crc32c=...,md5=<base64>`."""
    for value in values:
        for part in value.split(","):
            name, _, encoded = part.strip().partition("=")
            if name == "md5" and encoded:
                try:
                    return base64.b64decode(encoded).hex()
                except ValueError:
                    return None
    return None


def fetch_json(url: str, *, timeout_s: float = 60.0, auth: str | None = None) -> Any:
    with _open(url, timeout_s, auth) as resp:
        body = resp.read(1 << 20)
    try:
        return json.loads(body)
    except ValueError:
        raise SourceError(f"{url} did not answer JSON (got {body[:80]!r})") from None


def with_retries(attempt: Callable[[], Any], *, retries: int, backoff_s: float, what: str) -> Any:
    """Call ATTEMPT until it succeeds, retrying TransientError up to RETRIES attempts in total."""
    errors: list[str] = []
    for n in range(max(1, retries)):
        try:
            return attempt()
        except TransientError as exc:
            errors.append(exc.message)
            if n + 1 < retries and backoff_s > 0:
                time.sleep(backoff_s * (2**n))
    raise SourceError(
        f"{what} failed after {len(errors)} attempt(s): " + "; ".join(errors),
        hint="check the network (or the mirror set in EDGEKIT_HUB_URL / EDGEKIT_KAGGLE_URL) and run again; nothing partial was kept",
    )
