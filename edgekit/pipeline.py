"""`edgekit convert`: the run as a short list of named steps.

source → data → train (reference) → convert (matrix) → parity → bench → report. Every step reads
and writes plain files under one run directory, out/<recipe>/<target>/, and a step whose inputs
have not changed is skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.console import err_console
from edgekit.errors import UsageError
from edgekit.executors import Executor
from edgekit.executors.local import LocalExecutor
from edgekit.fsutil import remove_stale_temporaries
from edgekit.interrupt import checkpoint, interruptible
from edgekit.matrix import Row, plan_combinations
from edgekit.recipe import Recipe, load_recipe
from edgekit.steps import StepLog, input_key
from edgekit.targets.profile import TargetProfile, resolve_target


@dataclass
class ConvertOptions:
    recipe_path: Path
    target: str = "host"
    formats: list[str] = field(default_factory=list)
    quants: list[str] = field(default_factory=list)
    out: Path | None = None
    overrides: list[str] = field(default_factory=list)
    threads: int | None = None
    force: bool = False
    remeasure: bool = False  # measure again even when the artifact and the machine have not changed
    summary_to_stderr: bool = False  # `convert --json`: stdout carries only the result JSON
    devices: list[str] = field(default_factory=list)  # --device: the bench step also measures there
    # --shard: only these (format, quant) cells of the plan are converted (edgekit/shard.py)
    only: list[tuple[str, str]] | None = None
    shard: dict | None = None  # recorded in report.json: which shard of how many, the plan, its cells
    executor: Executor | None = None  # --executor: where the matrix cells run (None: this machine)
    # `convert MODEL`: start from this trained model (edgekit.model_input.ModelRequest): no training
    model: Any = None


@dataclass
class RunContext:
    recipe: Recipe
    recipe_path: Path
    recipe_hash: str
    profile: TargetProfile
    run_dir: Path
    threads: int
    steps: StepLog
    devices: list = field(
        default_factory=list
    )  # edgekit.devices.DeviceSpec, resolved before anything is written
    shard: dict | None = None  # `--shard`: goes into report.json as is
    executor: Executor = field(default_factory=LocalExecutor)  # where conversions and measurements run
    model: Any = None  # `convert MODEL`: the trained model the run starts from (ConvertOptions.model)


@dataclass
class RunResult:
    run_dir: Path
    rows: list[Row]
    report: dict

    @property
    def exit_code(self) -> int:
        """Non-zero only when a requested combination failed (parity verdicts are results, not errors)."""
        return 1 if any(r.status == "failed" for r in self.rows) else 0


def open_run(opts: ConvertOptions) -> RunContext:
    if opts.model is not None:  # the model is loaded and checked, and --data read, before any write
        from edgekit.from_model import open_model

        recipe = open_model(opts.model, opts.overrides)
    else:
        recipe = load_recipe(opts.recipe_path, opts.overrides)
    profile = resolve_target(opts.target)
    devices = _resolve_devices(opts.devices)
    _say_alias(opts.target, profile)
    require_converters(planned_rows(profile, opts))
    out_root = opts.out or Path(recipe.output.dir)
    if not out_root.is_absolute() and opts.out is None:
        out_root = Path.cwd() / out_root
    run_dir = out_root / recipe.name / profile.name
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # --out names a file, a folder without write access, ...
        raise UsageError(
            f"cannot create the run folder {run_dir}: {exc.strerror or exc}",
            hint="pass --out a folder you can write to (or set output.dir in the recipe)",
        ) from None
    remove_stale_temporaries(run_dir)  # leftovers of an interrupted run are never trusted
    threads = opts.threads or recipe.bench.threads or profile.plan.threads
    _warn_oversubscribed(threads, profile)
    recipe_hash = input_key(recipe.model_dump(mode="json"))
    return RunContext(
        recipe,
        opts.recipe_path,
        recipe_hash,
        profile,
        run_dir,
        threads,
        StepLog(run_dir, opts.force, redo=("bench-",) if opts.remeasure else ()),
        devices,
        opts.shard,
        model=opts.model,
    )


def _resolve_devices(names: list[str]) -> list:
    if not names:
        return []
    from edgekit.devices.spec import resolve_device

    return [resolve_device(n) for n in names]


def planned_rows(profile: TargetProfile, opts: ConvertOptions) -> list[Row]:
    """The target's plan narrowed by --format/--quant and, for a shard, to its own cells."""
    rows = plan_combinations(profile, opts.formats, opts.quants)
    if opts.model is not None:  # without --data, full-integer modes are rows that say why they were skipped
        from edgekit.from_model import skip_uncalibrated

        rows = skip_uncalibrated(rows, opts.model, profile.name)
    if opts.only is None:
        return rows
    only = {tuple(cell) for cell in opts.only}
    return [r for r in rows if r.status != "pending" or (r.format, r.quant) in only]


def require_converters(rows: list[Row]) -> None:
    """Before any step runs: every converter the plan needs is installed (else exit 2, nothing written)."""
    from edgekit.convert import FORMATS
    from edgekit.setup.requires import require_installed

    for fmt in dict.fromkeys(r.format for r in rows if r.status == "pending"):
        require_installed(FORMATS.get(fmt).requires, f"edgekit convert (format {fmt})")


def _warn_oversubscribed(threads: int, profile: TargetProfile) -> None:
    """The plan's thread count is the target's; on a smaller host the measurement says so."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if threads > cores:
        err_console.print(
            f"[yellow]note[/]: measuring with {threads} threads ({profile.name}'s plan) on a host with "
            f"{cores} usable core(s): host latency will be noisy; --threads {cores} measures this host's best"
        )


def _say_alias(name: str, profile: TargetProfile) -> None:
    if name.endswith((".yaml", ".yml")):
        err_console.print(f"target: {profile.name} (from {name})")
    elif name.strip().lower() != profile.name:
        err_console.print(f"target: {name} → {profile.name} ({profile.description})")
    else:
        err_console.print(f"target: {profile.name} ({profile.description})")


def run_convert(opts: ConvertOptions) -> RunResult:
    from edgekit.setup.extras import require_extra

    require_extra("tf", "edgekit convert")
    ctx = open_run(opts)
    if opts.executor is not None:
        ctx.executor = opts.executor
    try:
        with interruptible():
            return _run_steps(ctx, opts)
    except BaseException:
        # Each writer removes its own temporary on failure, yet a Ctrl-C during an int8 TFLite
        # conversion was seen to leave one behind (about 1 run in 5), so the run's boundary sweeps
        # whatever remains. Finished files are never touched.
        remove_stale_temporaries(ctx.run_dir)
        raise


def _run_steps(ctx: RunContext, opts: ConvertOptions) -> RunResult:
    from edgekit import stages

    # checkpoint(): a Ctrl-C whose KeyboardInterrupt was swallowed inside a step stops the run here
    combos = planned_rows(ctx.profile, opts)
    if ctx.model is not None:  # a trained model: model → data → reference instead of source → data → train
        from edgekit.from_model import model_steps

        source, data, reference = model_steps(ctx, ctx.model)
    else:
        source = stages.resolve_source_step(ctx)
        checkpoint()
        data = stages.data_step(ctx, source)
        checkpoint()
        reference = stages.train_step(ctx, source, data)
    checkpoint()
    rows = stages.convert_step(ctx, reference, data, combos)
    checkpoint()
    stages.parity_step(ctx, reference, data, rows)
    checkpoint()
    stages.bench_step(ctx, data, rows)
    checkpoint()
    if ctx.devices:
        stages.device_bench_step(ctx, rows)
        checkpoint()
    stages.estimate_step(ctx, reference, rows)
    checkpoint()
    report = stages.report_step(ctx, source, reference, rows)
    from edgekit.report.summary import print_summary

    print_summary(report, ctx.run_dir, err_console if opts.summary_to_stderr else None)
    return RunResult(ctx.run_dir, rows, report)
