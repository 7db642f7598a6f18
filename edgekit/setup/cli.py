"""`edgekit setup tfjs|js` and `edgekit doctor`."""

from __future__ import annotations

import json

import typer

from edgekit.console import console, err_console

DOCTOR_EPILOG = """Examples:\n\n
  edgekit doctor                 # a table: what works, what is missing, the command that fixes it\n
  edgekit doctor --json          # the same as JSON (a list of checks)\n
  edgekit doctor --no-tf-gpu     # skip starting TensorFlow to ask which GPUs it sees\n"""

SETUP_EPILOG = """Examples:\n\n
  edgekit setup tfjs             # the TF.js converter (needs the `tf` extra)\n
  edgekit setup js               # the TF.js runner's npm packages (needs Node.js 18+)\n
  edgekit setup all              # both\n"""


def register(app: typer.Typer) -> None:
    setup_app = typer.Typer(
        name="setup",
        help="Install the parts that are not Python dependencies: the TF.js converter and runner.",
        no_args_is_help=True,
        add_completion=False,
        epilog=SETUP_EPILOG,
    )
    setup_app.command("tfjs", epilog=SETUP_EPILOG)(setup_tfjs)
    setup_app.command("js", epilog=SETUP_EPILOG)(setup_js)
    setup_app.command("all", epilog=SETUP_EPILOG)(setup_all)
    app.add_typer(setup_app, name="setup")
    app.command("doctor", epilog=DOCTOR_EPILOG)(doctor)


def setup_tfjs(
    force: bool = typer.Option(False, "--force", help="Install again even when it is there."),
) -> None:
    """Install the pinned tensorflowjs converter (hash-checked, without its unresolvable dependencies)."""
    from edgekit.setup.tfjs_converter import install

    folder = install(force=force, log=_progress)
    console.print(f"✓ TF.js converter ready: {folder}")


def setup_js(
    force: bool = typer.Option(False, "--force", help="Install again even when it is there."),
) -> None:
    """Install the TF.js runner's npm packages from the shipped lockfile (npm ci) into edgekit's tools folder."""
    from edgekit.setup.js_runner import ensure_runner, install_runner

    folder = install_runner(force=True, log=_progress) if force else ensure_runner(log=_progress)
    console.print(f"✓ TF.js runner ready: {folder}")


def setup_all(
    force: bool = typer.Option(False, "--force", help="Install again even when they are there."),
) -> None:
    """Both: the TF.js converter and the TF.js runner."""
    setup_tfjs(force)
    setup_js(force)


def doctor(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    tf_gpu: bool = typer.Option(
        True,
        "--tf-gpu/--no-tf-gpu",
        help="Start TensorFlow in a child process to list the GPUs it sees (a few seconds).",
    ),
) -> None:
    """Python, installed extras, usable formats, quant modes and runtimes (and why not), Node/Chromium, caches, GPUs."""
    from edgekit.doctor.checks import run_checks

    if tf_gpu and not as_json:
        err_console.print(
            "[dim]checking… (TensorFlow's GPU view takes a few seconds; --no-tf-gpu skips it)[/]"
        )
    checks = run_checks(tf_gpu=tf_gpu)
    core_ok = all(
        c.ok for c in checks if c.section in ("python",) or (c.section, c.name) == ("extras", "core")
    )
    if as_json:
        console.print_json(json.dumps({"ok": core_ok, "checks": [c.to_dict() for c in checks]}))
    else:
        _print_table(checks)
    raise typer.Exit(0 if core_ok else 1)


def _print_table(checks: list) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", title="edgekit doctor", title_justify="left")
    for col in ("", "section", "name", "status"):
        table.add_column(col, overflow="fold")
    fixes = []
    for c in checks:
        table.add_row("[green]✓[/]" if c.ok else "[red]✗[/]", c.section, c.name, escape(c.detail))
        if not c.ok and c.fix and c.fix not in fixes:
            fixes.append(c.fix)
    console.print(table)
    if fixes:
        console.print("[bold]to fix:[/]")
        for fix in fixes:
            console.print(f"  {escape(fix)}", highlight=False)


def _progress(message: str) -> None:
    from rich.markup import escape

    err_console.print(escape(message), highlight=False)
