"""The `edgekit` command line: thin commands over the Python API, one error boundary.

Heavy imports (TensorFlow, converters, runtimes) happen inside commands, never at start-up, so
`edgekit --help` and `edgekit list` answer in well under a second.
Subsystems add their own commands through a `register(app)` function in their `cli` module,
listed in SUBCOMMAND_MODULES.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from edgekit import __version__
from edgekit.console import console, err_console
from edgekit.errors import EdgekitError
from edgekit.quiet import quiet_native_stderr

if TYPE_CHECKING:
    from rich.console import Console

    from edgekit.model_input import ModelRequest
    from edgekit.multirun import MultiRunResult
    from edgekit.pipeline import ConvertOptions, RunResult
    from edgekit.shard import Shard

SUBCOMMAND_MODULES = (
    "edgekit.sources.cli",
    "edgekit.targets.cli",
    "edgekit.bench.cli",
    "edgekit.report.cli",
    "edgekit.bundle.cli",
    "edgekit.train_run",
    "edgekit.setup.cli",
    "edgekit.release.cli",
)

INTERRUPTED = "[yellow]interrupted[/]: nothing half-written was kept"

app = typer.Typer(
    name="edgekit",
    help="Get trained vision models onto edge devices: pull, fine-tune, quantize, convert, check, benchmark.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, powershell
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"edgekit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """edgekit: one command from a pretrained backbone to checked, benchmarked edge artifacts."""


@app.command(
    epilog="""Examples:\n\n
  edgekit convert --target rpi                      # bundled demo recipe, Raspberry Pi 4 plan\n
  edgekit convert my.yaml --target rpi5 --out out/   # your recipe\n
  edgekit convert --target host --quant fp32 --quant int8 --set train.epochs=1\n
  edgekit convert my.yaml --json > result.json        # the result as JSON; progress on stderr\n
  edgekit convert my.yaml --target rpi4,android-mid,browser   # trains and converts once, measures per target\n
  edgekit convert my.yaml --target rpi4,rpi5 --shard 2/3       # one CI job's share of the matrix\n
  edgekit convert my.yaml --target host,rpi4 --executor ray --ray-address 10.0.0.5:6379   # cells as Ray tasks\n
  edgekit convert model.keras --target host,rpi4 --data images/   # a model you trained: no training step\n
  edgekit convert saved_model/ --target rpi5 --data calib.npz --input-shape 224x224 --value-range -1,1\n""",
)
def convert(
    recipe: str | None = typer.Argument(
        None,
        metavar="[RECIPE|MODEL]",
        help="Recipe YAML (default: ./edgekit.yaml if present, else the bundled demo), or a trained MODEL to "
        "convert without training: a SavedModel folder, a .keras file or a tfhub:/kaggle: handle.",
    ),
    targets: list[str] = typer.Option(
        ["host"],
        "--target",
        "-t",
        help="Device profile name, alias or YAML path (see `edgekit list targets`); repeatable or comma-separated, `all` for every built-in profile.",
    ),
    formats: list[str] = typer.Option(
        [], "--format", "-f", help="Only these formats (repeatable). Default: the target's plan."
    ),
    quants: list[str] = typer.Option(
        [], "--quant", "-q", help="Only these quant modes (repeatable). Default: the target's plan."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output root. Default: the recipe's output.dir (out/)."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a recipe field: --set train.epochs=2 (repeatable)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="Threads for host measurement. Default: the target's plan."
    ),
    force: bool = typer.Option(
        False, "--force", help="Redo every step even when its inputs have not changed."
    ),
    remeasure: bool = typer.Option(
        False,
        "--remeasure",
        help="Measure on the host again even when the artifact and the machine have not changed "
        "(an unchanged run reuses its recorded measurements).",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the result as JSON on stdout (run_dir, exit_code, report); progress and the summary go to stderr.",
    ),
    devices: list[str] = typer.Option(
        [],
        "--device",
        "-d",
        help="Also measure every artifact on a device: ssh://user@host[:port], adb[:SERIAL] or a devices.yaml name (repeatable).",
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="MODEL only: calibration and parity images, a folder (class subfolders give labels) or an .npz with x (and y). Without it full-integer modes are skipped and parity runs on generated inputs.",
    ),
    input_shape: str | None = typer.Option(
        None,
        "--input-shape",
        help="MODEL only: input height and width, e.g. 224x224 (when the model does not fix them).",
    ),
    value_range: str | None = typer.Option(
        None, "--value-range", help="MODEL only: the input range it was trained on, e.g. -1,1. Default: 0,1."
    ),
    name: str | None = typer.Option(
        None, "--name", help="MODEL only: the run's name, out/<name>/<target>/. Default: from MODEL."
    ),
    shard: str | None = typer.Option(
        None,
        "--shard",
        help="Run only shard K of N of the (target, format, quant) matrix, e.g. 2/4; join the shards' reports with `edgekit report merge`.",
    ),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="Where the matrix cells run: local (this machine) or ray (Ray tasks; target T's bench cells on the node that advertises the resource device:T). ray needs the `ray` extra.",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="--executor ray: the head's HOST:PORT. Default: RAY_ADDRESS, else a cluster started here with `ray start`, else a new one for this run.",
    ),
    allow_unsafe_ops: bool = typer.Option(
        False,
        "--allow-unsafe-ops",
        help="Accept a source whose graph uses ops outside the op scan's allowlist of pure computation (files, network, Python, ...); recorded in the lockfile and the run manifest. Same as --set source.allow_unsafe_ops=true.",
    ),
) -> None:
    """Fine-tune (or start from a trained MODEL), convert, check parity and benchmark for each target; writes out/<name>/<target>/."""
    from edgekit.model_input import model_request
    from edgekit.multirun import expand_targets
    from edgekit.pipeline import ConvertOptions
    from edgekit.shard import parse_shard

    model = model_request(recipe, data=data, input_shape=input_shape, value_range=value_range, name=name)
    if allow_unsafe_ops:
        overrides = _allow_unsafe_ops(overrides, model)
    recipe_path = _run_source(recipe, model, err_console if as_json else console)
    names = expand_targets(targets)
    part = parse_shard(shard) if shard is not None else None
    opts = ConvertOptions(
        recipe_path=recipe_path,
        target=names[0],
        formats=formats,
        quants=quants,
        out=out,
        overrides=overrides,
        threads=threads,
        force=force,
        remeasure=remeasure,
        summary_to_stderr=as_json,
        devices=devices,
        model=model,
    )
    result = _run_matrix(opts, names, executor, ray_address, part, shard)
    if as_json:
        _print_json(result, sharded=part is not None)
    raise typer.Exit(result.exit_code)


def _allow_unsafe_ops(overrides: list[str], model: ModelRequest | None) -> list[str]:
    """--allow-unsafe-ops: the recipe override it stands for; refused for a MODEL on the command line."""
    if model is not None:
        from edgekit.errors import UsageError

        raise UsageError(
            "--allow-unsafe-ops applies to recipe runs; a MODEL given on the command line is always scanned strictly",
            hint="write a recipe whose source is the model, with source.allow_unsafe_ops: true",
        )
    return [*overrides, "source.allow_unsafe_ops=true"]


def _run_source(recipe: str | None, model: ModelRequest | None, out: Console) -> Path:
    """The recipe file to run (found as `find_recipe` says), or a MODEL's own path; says which on `out`."""
    if model is not None:  # a trained model: the run's settings are the defaults plus --set
        out.print(f"model: {model.spec} ({model.kind}, no training)")
        return model.where
    from edgekit.recipe import find_recipe

    recipe_path, how = find_recipe(Path(recipe) if recipe is not None else None)
    out.print(f"recipe: {recipe_path} ({how})")
    return recipe_path


def _run_matrix(
    opts: ConvertOptions,
    names: list[str],
    executor: str,
    ray_address: str | None,
    part: Shard | None,
    shard: str | None,
) -> RunResult | MultiRunResult:
    """Run the (target, format, quant) matrix, or shard `part` of it (--shard `shard`), on the --executor."""
    from edgekit.executors import open_executor
    from edgekit.multirun import run_convert_many
    from edgekit.pipeline import run_convert

    with open_executor(executor, ray_address) as opts.executor:
        if part is not None:
            return _run_shard(opts, names, part, shard)
        return run_convert(opts) if len(names) == 1 else run_convert_many(opts, names)


def _run_shard(opts: ConvertOptions, names: list[str], part: Shard, shard: str | None) -> MultiRunResult:
    """One shard's cells; a shard that no cell falls to ends the command with exit code 0."""
    from edgekit.multirun import run_shard

    result = run_shard(opts, names, part)
    if result is None:
        err_console.print(f"shard {shard}: no cell of this matrix falls to it; nothing to do")
        raise typer.Exit(0)
    return result


def _print_json(result: RunResult | MultiRunResult, *, sharded: bool) -> None:
    """--json: one run's document, or {exit_code, runs} for several targets or a shard."""
    import json

    runs = getattr(result, "results", [result])
    doc = [{"run_dir": str(r.run_dir), "exit_code": r.exit_code, "report": r.report} for r in runs]
    single = len(runs) == 1 and not sharded
    typer.echo(
        json.dumps(doc[0] if single else {"exit_code": result.exit_code, "runs": doc}, indent=2, default=str)
    )


@app.command(
    name="list",
    epilog="Examples:\n\n  edgekit list targets\n\n  edgekit list targets 'rpi*'\n\n  edgekit list formats\n\n  edgekit list quant --json\n",
)
def list_(
    what: str = typer.Argument(..., help="targets | formats | quant | runtimes"),
    pattern: str = typer.Argument("*", help="Glob on names and aliases, e.g. 'rpi*'."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List registered targets, formats, quant modes or runtimes."""
    from edgekit.listing import list_registry

    list_registry(what, pattern, as_json)


def _register_subcommands() -> None:
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module: surface it
                raise
            continue
        module.register(app)


_register_subcommands()


def main(argv: list[str] | None = None) -> int:
    """Entry point: the one place where errors become messages and exit codes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # TensorFlow's import logs to fd 2 before absl reads TF_CPP_MIN_LOG_LEVEL ("Could not find
        # cuda drivers", "failed call to cuInit" on every machine without a GPU); the whole command
        # runs with native stderr captured, and it is replayed only if the command crashes.
        with quiet_native_stderr(replay_if=_is_crash):
            rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int):  # --help and typer.Exit come back as a return value here
            if rv == 130:  # typer turns a KeyboardInterrupt inside a command into exit code 130
                err_console.print(INTERRUPTED)
            return rv
    except EdgekitError as exc:
        return _report(exc)
    except KeyboardInterrupt:
        err_console.print(INTERRUPTED)
        return 130
    except ModuleNotFoundError as exc:  # an optional part of the install that a code path needs
        return _missing_module(exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print(INTERRUPTED)
        return 130
    except Exception as exc:  # typer's own usage errors (bad option, missing argument)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return exc.exit_code
        raise
    return 0


def _is_crash(exc: BaseException) -> bool:
    return not isinstance(
        exc, (EdgekitError, KeyboardInterrupt, typer.Exit, typer.Abort, ModuleNotFoundError, SystemExit)
    )


def _missing_module(exc: ModuleNotFoundError) -> int:
    from edgekit.setup.extras import extra_for_missing_module, missing_extra_error

    extra = extra_for_missing_module(exc)
    if extra is None:
        raise exc
    return _report(missing_extra_error(extra, f"this command (it imports {exc.name})", [exc.name or "?"]))


def _report(exc: EdgekitError) -> int:
    from rich.markup import escape  # messages quote user input and install lines like "edgekit-ml[tf]"

    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
    if exc.hint:
        err_console.print(f"  [dim]hint:[/] {escape(exc.hint)}", highlight=False)
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
