"""`edgekit release …` and `edgekit fetch`. Heavy imports (cryptography, oras) happen inside commands."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from edgekit.console import console

RELEASE_EPILOG = """A release is <out>/<name>/<version>/: one deterministic bundle per target, release.json (what is in it,
with every hash), RELEASE_NOTES.md (the difference to the previous release) and signature.json (--sign); CHANGELOG.md
beside it gains an entry.\n\n
Examples:\n\n
  edgekit release keygen ~/.config/edgekit/release.key            # once: ed25519 key + .pub\n
  edgekit release out/demo --version 1.0.0 --sign ~/.config/edgekit/release.key\n
  edgekit release out/demo/mcu-m7 --version 1.1.0 --sign ~/.ssh/id_ed25519\n
  edgekit release push releases/demo/1.1.0 oci://registry.example.com/team/demo\n
  edgekit release list oci://registry.example.com/team/demo\n
  edgekit fetch oci://registry.example.com/team/demo:1.1.0 --key team.pub\n"""


class _DefaultCreate(TyperGroup):
    """`edgekit release RUN_DIR …` means `edgekit release create RUN_DIR …`."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # ctx: typer's click Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


release_app = typer.Typer(
    name="release",
    cls=_DefaultCreate,
    no_args_is_help=True,
    add_completion=False,
    help="Versioned, signed releases of a run: create, keygen, verify, push, list. "
    "`edgekit release RUN_DIR --version X.Y.Z` is short for `edgekit release create RUN_DIR …`.",
    epilog=RELEASE_EPILOG,
)


@release_app.command("create", epilog=RELEASE_EPILOG)
def create(
    run_dir: Path = typer.Argument(
        ..., help="Run folder out/<recipe>/<target>, or out/<recipe> for every target in it."
    ),
    version: str = typer.Option(
        ..., "--version", "-v", help="MAJOR.MINOR.PATCH; checked against the previous release."
    ),
    sign: Path | None = typer.Option(
        None, "--sign", help="ed25519 private key: `edgekit release keygen` or OpenSSH (unencrypted)."
    ),
    out: Path = typer.Option(
        Path("releases"), "--out", "-o", help="Releases folder: <out>/<name>/<version>/."
    ),
    changelog: Path | None = typer.Option(
        None, "--changelog", help="CHANGELOG.md to add the entry to. Default: <out>/<name>/CHANGELOG.md"
    ),
) -> None:
    """Make a release of a run: bundles, release notes from the previous release, CHANGELOG entry, signature."""
    from edgekit.release.build import make_release
    from edgekit.setup.extras import require_extra

    if sign is not None:
        require_extra("release", "edgekit release --sign")
    made = make_release(run_dir, version, out, sign, changelog)
    prev = f"after {made.previous} (changes need a {made.needed} bump)" if made.previous else "first release"
    console.print(
        f"wrote {made.folder} ({prev}); "
        + (
            f"signed with {made.signer}"
            if made.signer
            else "[yellow]not signed[/]: `edgekit fetch` refuses unsigned releases; add --sign KEY"
        ),
        highlight=False,
    )
    console.print(f"changelog: {made.changelog}", highlight=False)


@release_app.command(
    "keygen",
    epilog="Examples:\n\n  edgekit release keygen release.key      # writes release.key (0600) and release.key.pub\n",
)
def keygen(
    path: Path = typer.Argument(
        ..., metavar="KEYFILE", help="Where to write the private key; the public key goes to KEYFILE.pub."
    ),
) -> None:
    """Make an ed25519 signing key for releases (keep the private key offline; share the .pub)."""
    from edgekit.setup.extras import require_extra
    from edgekit.signing.keys import generate_key, key_id, load_public_key

    require_extra("release", "edgekit release keygen")
    priv, pub = generate_key(path)
    console.print(
        f"wrote {priv} (private, mode 0600) and {pub}; key id {key_id(load_public_key(pub))}", highlight=False
    )


@release_app.command(
    "verify", epilog="Examples:\n\n  edgekit release verify releases/demo/1.1.0 --key team.pub\n"
)
def verify_cmd(
    folder: Path = typer.Argument(
        ..., metavar="RELEASE_DIR", help="A release folder <out>/<name>/<version>."
    ),
    keys: list[Path] = typer.Option(
        [], "--key", "-k", help="Trusted public key (repeatable): .pub file or private key."
    ),
    allow_unsigned: bool = typer.Option(
        False, "--allow-unsigned", help="Accept a release without a signature (hashes are still checked)."
    ),
) -> None:
    """Check a release folder: signature by a trusted key, every hash, every bundle."""
    from edgekit.release.store import read_folder, verify_files

    release = verify_files(
        read_folder(folder), _trusted(keys, allow_unsigned), str(folder), allow_unsigned=allow_unsigned
    )
    console.print(
        f"ok: {folder} verifies ({release.meta['name']} {release.meta['version']}, "
        + (f"signed by {release.signer})" if release.signer else "unsigned)"),
        highlight=False,
    )


@release_app.command(
    "push", epilog="Examples:\n\n  edgekit release push releases/demo/1.1.0 oci://127.0.0.1:5000/team/demo\n"
)
def push_cmd(
    folder: Path = typer.Argument(
        ..., metavar="RELEASE_DIR", help="A signed release folder <out>/<name>/<version>."
    ),
    ref: str = typer.Argument(
        ..., metavar="oci://HOST[:PORT]/REPO[:X.Y.Z]", help="Where to push; the tag is the release version."
    ),
    plain_http: bool = typer.Option(
        False, "--plain-http", help="Talk http, not https (loopback registries always do)."
    ),
) -> None:
    """Publish a signed release to an OCI registry (ORAS artifact with version/targets/quant/hash annotations)."""
    from edgekit.errors import UsageError
    from edgekit.release.oci import parse_ref, push
    from edgekit.release.store import SIGNATURE_JSON, read_folder, verify_files
    from edgekit.setup.extras import require_extra

    require_extra("release", "edgekit release push")
    target = parse_ref(ref, need_tag=False)
    files = read_folder(folder)
    if SIGNATURE_JSON not in files:
        raise UsageError(
            f"{folder} is not signed; edgekit fetch would refuse it",
            hint="make the release again with --sign KEY",
        )
    release = verify_files(files, [_embedded_key(files[SIGNATURE_JSON])], str(folder))
    push(release, target, plain_http)
    console.print(
        f"pushed {release.meta['name']} {release.meta['version']} to oci://{target.name}:{release.meta['version']} "
        f"(signed by {release.signer})",
        highlight=False,
    )


@release_app.command(
    "list", epilog="Examples:\n\n  edgekit release list oci://127.0.0.1:5000/team/demo --json\n"
)
def list_cmd(
    ref: str = typer.Argument(..., metavar="oci://HOST[:PORT]/REPO", help="Repository to list."),
    plain_http: bool = typer.Option(
        False, "--plain-http", help="Talk http, not https (loopback registries always do)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the releases in an OCI repository with their targets, quant modes and signer."""
    import json

    from rich.table import Table

    from edgekit.release.oci import PREFIX, list_releases, parse_ref
    from edgekit.setup.extras import require_extra

    require_extra("release", "edgekit release list")
    rows = list_releases(parse_ref(ref, need_tag=False), plain_http)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("version", "targets", "quant modes", "created", "signed by")
    for r in rows:
        table.add_row(
            r["tag"],
            r.get(f"{PREFIX}.targets", "-"),
            r.get(f"{PREFIX}.quant-modes", "-"),
            r.get("org.opencontainers.image.created", "-"),
            r.get(f"{PREFIX}.signer") or "-",
        )
    console.print(table)


def fetch_cmd(
    ref: str = typer.Argument(..., metavar="oci://HOST[:PORT]/REPO:X.Y.Z", help="The release to fetch."),
    keys: list[Path] = typer.Option(
        [], "--key", "-k", help="Trusted public key (repeatable): the publisher's .pub file."
    ),
    out: Path = typer.Option(
        Path("releases"), "--out", "-o", help="Releases folder: writes <out>/<name>/<version>/."
    ),
    plain_http: bool = typer.Option(
        False, "--plain-http", help="Talk http, not https (loopback registries always do)."
    ),
) -> None:
    """Fetch a release from an OCI registry; the signature and every hash are checked before anything is written."""
    from edgekit.release.oci import fetch, parse_ref
    from edgekit.setup.extras import require_extra

    require_extra("release", "edgekit fetch")
    release, folder = fetch(parse_ref(ref, need_tag=True), _trusted(keys, False), out, plain_http)
    console.print(
        f"fetched {release.meta['name']} {release.meta['version']} into {folder} "
        f"(signed by {release.signer}; {len(release.files)} files verified)",
        highlight=False,
    )


def _trusted(keys: list[Path], allow_unsigned: bool) -> list:
    from edgekit.errors import UsageError
    from edgekit.signing.keys import load_public_key

    if not keys and not allow_unsigned:
        raise UsageError(
            "no trusted key given: a release is only as good as the key that signed it",
            hint="pass the publisher's public key: --key team.pub",
        )
    return [load_public_key(k) for k in keys]


def _embedded_key(sig_bytes: bytes):
    """The public key a release's own signature names: enough to check a release before pushing it
    (integrity), not to trust it (that needs the key from its publisher)."""
    import json

    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    from edgekit.errors import IntegrityError

    try:
        return load_ssh_public_key(json.loads(sig_bytes)["public_key"].encode())
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"signature.json names no usable public key: {exc}") from None


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command(
        name="fetch",
        epilog="Examples:\n\n  edgekit fetch oci://127.0.0.1:5000/team/demo:1.1.0 --key team.pub --out vendor/\n",
    )(fetch_cmd)
