"""ed25519 signing keys: edgekit's own (PEM, from `edgekit release keygen`) or OpenSSH ones.

Public keys are always written and read in the OpenSSH one-line form (`ssh-ed25519 AAAA… comment`),
so an existing ~/.ssh/id_ed25519.pub is a valid trusted key. Key ids are the SHA256 fingerprint
`ssh-keygen -l` prints.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from edgekit.errors import UsageError

KEYGEN_HINT = "make one with `edgekit release keygen KEYFILE` or `ssh-keygen -t ed25519 -N '' -f KEYFILE`"


def _ed25519():
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519


def generate_key(path: Path, comment: str = "edgekit-release") -> tuple[Path, Path]:
    """Write a new private key to PATH (mode 0600, never overwriting) and its public key to PATH.pub."""
    from cryptography.hazmat.primitives import serialization as s

    pub_path = path.with_name(path.name + ".pub")
    for p in (path, pub_path):
        if p.exists():
            raise UsageError(
                f"{p} already exists; edgekit never overwrites a key", hint="choose another path"
            )
    if not path.parent.is_dir():
        raise UsageError(f"folder {path.parent} does not exist", hint="create it first")
    key = _ed25519().Ed25519PrivateKey.generate()
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_text(public_line(key.public_key(), comment) + "\n")
    return path, pub_path


def public_line(public_key, comment: str = "") -> str:
    from cryptography.hazmat.primitives import serialization as s

    line = public_key.public_bytes(s.Encoding.OpenSSH, s.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}".strip()


def key_id(public_key) -> str:
    """SHA256:<base64> of the OpenSSH key blob, as `ssh-keygen -l -E sha256` prints it."""
    blob = base64.b64decode(public_line(public_key).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def load_private_key(path: Path):
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    data = _read(path, "signing key")
    key: PrivateKeyTypes
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = s.load_ssh_private_key(data, password=None)
        else:
            key = s.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        raise UsageError(
            f"{path} is encrypted with a passphrase; edgekit signs offline without prompting",
            hint="use an unencrypted ed25519 key kept offline, or " + KEYGEN_HINT,
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not a PEM or OpenSSH private key: {exc}", hint=KEYGEN_HINT) from None
    if not isinstance(key, _ed25519().Ed25519PrivateKey):
        raise UsageError(
            f"{path} is a {type(key).__name__.removeprefix('_')} key; releases are signed with ed25519",
            hint=KEYGEN_HINT,
        )
    return key


def load_public_key(path: Path):
    """An OpenSSH `ssh-ed25519 …` line (a .pub file), or a private key whose public half is used."""
    from cryptography.hazmat.primitives import serialization as s

    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = s.load_ssh_public_key(data.strip().split(b"\n")[0])
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise UsageError(
            f"{path} is not an OpenSSH public key line (ssh-ed25519 AAAA…): {exc}",
            hint="pass the .pub file written by `edgekit release keygen` or ssh-keygen",
        ) from None
    if not isinstance(key, _ed25519().Ed25519PublicKey):
        raise UsageError(f"{path} is not an ed25519 public key", hint=KEYGEN_HINT)
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist", hint=KEYGEN_HINT) from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a folder, not a key file", hint=KEYGEN_HINT) from None
