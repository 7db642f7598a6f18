"""`edgekit bundle` and `edgekit verify`. Heavy work is imported inside the commands."""

from __future__ import annotations

from pathlib import Path

import typer

BUNDLE_EPILOG = """The archive is byte-for-byte reproducible: file times come from SOURCE_DATE_EPOCH (default 0).\n\n
Examples:\n\n
  edgekit bundle out/demo/rpi4                              # → out/demo/rpi4/demo-rpi4.bundle.tar.gz\n
  edgekit bundle out/demo --target rpi4 --out demo.zip\n
  edgekit bundle out/demo/rpi4 --artifact tflite-int8 --out fw.tar.gz\n
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) edgekit bundle out/demo/rpi4\n
  edgekit bundle out/demo/rpi4 --sign ~/.ssh/id_ed25519       # adds SHA256SUMS.sig (ed25519, offline)\n"""

VERIFY_EPILOG = (
    "Exit codes: 0 intact, 1 does not verify (every problem is listed), 2 usage error, "
    "3 with --key: unsigned, signed by another key, or changed after signing.\n\n"
    "Checksums prove integrity, not origin: only --key catches a bundle whose files, manifest and "
    "SHA256SUMS were all rewritten consistently.\n\n"
    "Examples:\n\n"
    "  edgekit verify out/demo/rpi4/demo-rpi4.bundle.tar.gz\n\n"
    "  edgekit verify extracted-bundle/      # a folder the bundle was extracted into\n\n"
    "  edgekit verify demo.bundle.tar.gz --key publisher.pub   # must be signed by this key\n"
)


def bundle(
    run_dir: Path = typer.Argument(
        ..., help="Run folder out/<recipe>/<target>, or out/<recipe> with --target."
    ),
    target: str | None = typer.Option(
        None, "--target", "-t", help="Target whose run to bundle (must match the run's)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="FILE.tar.gz or FILE.zip. Default: <run>/<recipe>-<target>.bundle.tar.gz"
    ),
    artifacts: list[str] = typer.Option(
        [],
        "--artifact",
        "-a",
        help="FORMAT-QUANT to include (repeatable). Default: all whose parity did not fail.",
    ),
    sign: Path | None = typer.Option(
        None,
        "--sign",
        metavar="KEY",
        help="Sign SHA256SUMS with this ed25519 private key (PEM from `edgekit release keygen`, or OpenSSH); "
        "writes SHA256SUMS.sig. Needs the release extra.",
    ),
) -> None:
    """Write a deterministic bundle: artifacts, labels.txt, manifest.json, SHA256SUMS, C arrays for TFLite Micro."""
    from edgekit.bundle.build import write_bundle
    from edgekit.console import console

    path = write_bundle(run_dir, out, target, artifacts, sign_key=sign)
    signed = f", signed with {sign}" if sign else ""
    console.print(f"wrote {path} ({path.stat().st_size} bytes{signed})")


def verify(
    bundle_path: Path = typer.Argument(
        ..., metavar="BUNDLE", help="Bundle archive (.tar.gz/.zip) or extracted folder."
    ),
    keys: list[Path] = typer.Option(
        [],
        "--key",
        metavar="PUB",
        help="Trusted ed25519 public key (ssh-ed25519 line, a .pub file); repeatable. The bundle must be "
        "signed by one of them. Needs the release extra.",
    ),
) -> None:
    """Check every file of a bundle against SHA256SUMS, manifest.json and each artifact.json; with --key, its signature."""
    from edgekit.bundle.verify import verify_bundle
    from edgekit.console import console

    result = verify_bundle(bundle_path, keys)
    if result.signed_by:
        console.print(f"ok: {bundle_path} verifies ({result.files} files), signed by {result.signed_by}")
    else:
        unsigned = "signed, signature not checked (pass --key)" if result.signature else "not signed"
        console.print(f"ok: {bundle_path} verifies ({result.files} files; {unsigned})")


def register(app: typer.Typer) -> None:
    app.command(name="bundle", epilog=BUNDLE_EPILOG)(bundle)
    app.command(name="verify", epilog=VERIFY_EPILOG)(verify)
