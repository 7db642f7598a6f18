"""Signing and verifying a release: an ed25519 signature over release.json's exact bytes.

release.json records the sha256 of every bundle of the release, and each bundle's SHA256SUMS and
manifest cover every file inside it, so one signature vouches for every byte. The signed message
is prefixed with a context string so a signature made for something else never verifies here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from edgekit.errors import IntegrityError
from edgekit.signing.keys import key_id, public_line

CONTEXT = b"edgekit-release-v1\n"
SIGNATURE_VERSION = 1


def sign(
    release_bytes: bytes, private_key, *, context: bytes = CONTEXT, signed_file: str = "release.json"
) -> dict[str, Any]:
    """CONTEXT and SIGNED_FILE let other signed documents (bundles' SHA256SUMS) share this format."""
    public = private_key.public_key()
    return {
        "signature_version": SIGNATURE_VERSION,
        "algorithm": "ed25519",
        "key_id": key_id(public),
        "public_key": public_line(public),
        "signed_file": signed_file,
        "signed_sha256": hashlib.sha256(release_bytes).hexdigest(),
        "signature": base64.b64encode(private_key.sign(context + release_bytes)).decode(),
    }


def signature_bytes(sig: dict[str, Any]) -> bytes:
    return (json.dumps(sig, indent=2, sort_keys=True) + "\n").encode()


def verify(
    release_bytes: bytes,
    sig_bytes: bytes | None,
    trusted: list,
    what: str,
    *,
    context: bytes = CONTEXT,
    signed_file: str = "release.json",
    signature_file: str = "signature.json",
    unsigned_hint: str = "ask the publisher for a signed release (edgekit release ... --sign KEY)",
) -> str:
    """The key id that signed RELEASE_BYTES, if it is one of TRUSTED public keys; else IntegrityError."""
    from cryptography.exceptions import InvalidSignature

    if sig_bytes is None:
        raise IntegrityError(
            f"{what} is not signed: it has no {signature_file}",
            hint=unsigned_hint,
        )
    try:
        sig = json.loads(sig_bytes)
        raw = base64.b64decode(sig["signature"], validate=True)
        claimed = str(sig["key_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{what}: {signature_file} is not a valid edgekit signature: {exc}") from None
    by_id = {key_id(k): k for k in trusted}
    if claimed not in by_id:
        raise IntegrityError(
            f"{what} is signed by key {claimed}, which is not among the trusted keys "
            f"({', '.join(sorted(by_id)) or 'none given'})",
            hint="pass the publisher's public key with --key, after checking its fingerprint with them",
        )
    try:
        by_id[claimed].verify(raw, context + release_bytes)
    except InvalidSignature:
        raise IntegrityError(
            f"{what}: the signature does not match {signed_file} (it was changed after signing)",
            hint="do not use it; fetch it again from the publisher",
        ) from None
    return claimed
