"""Bundle signatures: an ed25519 signature over SHA256SUMS, in SHA256SUMS.sig beside it.

SHA256SUMS lists the sha256 of every file of the bundle, manifest.json included, so one signature
over its exact bytes vouches for every byte of the bundle. The signature file has the format of
release signatures (edgekit.signing.signatures) with its own context string, so a release signature
never verifies as a bundle signature or the other way round. Ed25519 signatures are deterministic:
signing the same bundle with the same key gives the same bytes, so signed bundles stay
reproducible. Keys are edgekit's own (`edgekit release keygen`) or OpenSSH ed25519 key files;
everything happens offline.
"""

from __future__ import annotations

from pathlib import Path

SIGNATURE = "SHA256SUMS.sig"
SIGNED = "SHA256SUMS"
CONTEXT = b"edgekit-bundle-v1\n"


def _require_cryptography(needed_by: str) -> None:
    """NotInstalledError (exit 2, naming edgekit-ml[release]) when cryptography is missing."""
    try:
        import cryptography  # noqa: F401
    except ModuleNotFoundError:
        from edgekit.setup.extras import missing_extra_error

        raise missing_extra_error("release", needed_by, ["cryptography"]) from None


def signing_key(key_path: Path):
    """The ed25519 private key at KEY_PATH (PEM or OpenSSH); UsageError when it is not one."""
    _require_cryptography("bundle --sign")
    from edgekit.signing.keys import load_private_key

    return load_private_key(key_path)


def sign_sums(sums: bytes, private_key) -> bytes:
    """The SHA256SUMS.sig bytes for SUMS."""
    from edgekit.signing.signatures import sign, signature_bytes

    return signature_bytes(sign(sums, private_key, context=CONTEXT, signed_file=SIGNED))


def check_signature(sums: bytes, sig: bytes | None, key_paths: list[Path], what: str) -> str:
    """The key id that signed SUMS, if it is one of the public keys at KEY_PATHS; else IntegrityError."""
    _require_cryptography("verify --key")
    from edgekit.signing.keys import load_public_key
    from edgekit.signing.signatures import verify

    trusted = [load_public_key(p) for p in key_paths]
    return verify(
        sums,
        sig,
        trusted,
        what,
        context=CONTEXT,
        signed_file=SIGNED,
        signature_file=SIGNATURE,
        unsigned_hint="ask the publisher for a signed bundle (edgekit bundle ... --sign KEY)",
    )
