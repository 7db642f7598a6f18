"""`edgekit targets ...`: show profiles, analyse and estimate artifacts, fit, evaluate, calibrate.

Light imports only at module level: TensorFlow is imported by `targets evaluate` alone, when it
converts the calibration models.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from edgekit.console import console, err_console

app = typer.Typer(
    name="targets", help="Device profiles, graph analysis and latency/memory estimates.", no_args_is_help=True
)


def _default_cache() -> Path:
    from edgekit.paths import user_cache_base

    return user_cache_base() / "calibration-models"


@app.command(
    epilog="Examples:\n\n  edgekit targets show rpi\n\n  edgekit targets show mcu-m7 --json\n\n  edgekit targets show ./my-pi.yaml\n"
)
def show(
    name: str = typer.Argument(..., help="Profile name, alias or YAML path."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
) -> None:
    """Print a target profile, with the held-out error of its estimates."""
    from edgekit.targets.fitted import load_fitted
    from edgekit.targets.profile import alias_note, resolve_target
    from edgekit.targets.report import profile_table

    profile = resolve_target(name)
    note = alias_note(name)
    if as_json:
        typer.echo(json.dumps(profile.model_dump(mode="json"), indent=2))
        return
    if note:
        err_console.print(f"target: {note}")
    key = profile.calibration.device
    held = load_fitted()["held_out"]["devices"].get(key) if key else None
    console.print(profile_table(profile, held))


@app.command(
    epilog="Examples:\n\n  edgekit targets analyze out/demo/rpi4/artifacts/tflite-int8/model.tflite\n\n  edgekit targets analyze model.onnx --ops\n\n  edgekit targets analyze model.tflite --json > analysis.json\n"
)
def analyze(
    path: Path = typer.Argument(..., help=".tflite or .onnx file, or an artifact folder."),
    ops: bool = typer.Option(False, "--ops", help="List every op."),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis (with every op) as JSON."),
) -> None:
    """Per-op types, shapes, dtypes, MACs and bytes; totals; peak activation memory."""
    from edgekit.targets.analysis import analyze as run
    from edgekit.targets.report import analysis_table

    a = run(path)
    if as_json:
        typer.echo(json.dumps(a.to_dict(), indent=1))
    else:
        console.print(analysis_table(a, ops))


@app.command(
    epilog="Examples:\n\n  edgekit targets estimate out/demo/rpi4/artifacts/tflite-int8 --target rpi4\n\n"
    "  edgekit targets estimate model.tflite -t rpi5 --threads 2          # quant mode read from the tensor types\n\n"
    "  edgekit targets estimate out/demo/browser/artifacts/tfjs-uint8 -t browser\n\n"
    "  edgekit targets estimate web_model/ -t browser --graph model.tflite\n"
)
def estimate(
    path: Path = typer.Argument(..., help=".tflite, .onnx or TF.js model.json file, or an artifact folder."),
    target: str = typer.Option(..., "--target", "-t", help="Profile name, alias or YAML path."),
    quant: str | None = typer.Option(
        None,
        "--quant",
        "-q",
        help="The artifact's quant mode. Default: artifact.json beside the model, else the model's tensor types.",
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="Default: the target's plan."),
    runtime: str | None = typer.Option(
        None, "--runtime", "-r", help="Default: the target's runtime for the artifact's format."
    ),
    graph: Path | None = typer.Option(
        None,
        "--graph",
        help="TF.js only: the .tflite of the same reference to read the graph from. Default: one in the same run.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Estimate latency (with its measured error band), peak RAM and fit of an artifact on a target."""
    from edgekit.convert import FORMATS, target_runtime
    from edgekit.errors import UsageError
    from edgekit.quant import QUANT_MODES
    from edgekit.targets.artifacts import read_artifact_input
    from edgekit.targets.estimator import estimate as est
    from edgekit.targets.profile import alias_note, resolve_target
    from edgekit.targets.report import estimate_text

    profile = resolve_target(target)
    if (note := alias_note(target)) and not as_json:
        err_console.print(f"target: {note}")
    art = read_artifact_input(path, QUANT_MODES.canonical(quant) if quant else None, graph)
    plugin = FORMATS.get(art.format)
    if plugin.estimated_from_tflite and runtime is None:  # a TFLite graph, run by the format's runtime
        runtime = target_runtime(art.format, profile.runtimes)
        if runtime is None:
            raise UsageError(
                f"{profile.name} has no {plugin.display} runtime (it has {', '.join(profile.runtimes)})",
                hint=f"estimate for a target that runs {plugin.display} (e.g. --target browser), or pass --runtime",
            )
    e = est(art.analysis, profile, quant=art.quant, threads=threads, runtime=runtime)
    said = f"{art.format} {art.quant} (quant mode from {art.quant_from})"
    warnings = (
        [f"--quant {art.quant} overrides {art.recorded_quant} recorded for this artifact"]
        if art.recorded_quant
        else []
    )
    warnings += [art.graph_note] if art.graph_note else []
    if as_json:
        typer.echo(
            json.dumps(
                {
                    **e.to_dict(),
                    "format": art.format,
                    "quant_from": art.quant_from,
                    "notes": warnings,
                    "slowest_ops": e.slowest_ops(art.analysis),
                },
                indent=2,
            )
        )
    else:
        err_console.print(f"artifact: {said}", highlight=False)
        for w in warnings:
            err_console.print(f"[yellow]note[/]: {w}", highlight=False)
        console.print(estimate_text(e, art.analysis))


@app.command(
    epilog="Examples:\n\n  edgekit targets fit\n\n  edgekit targets fit --calibration ../shared/calibration --features ~/.cache/edgekit/calibration-models/model_features.json\n"
)
def fit(
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help="Folder with published_latency.csv (default: the copy shipped in edgekit/targets/calibration/).",
    ),
    features: Path | None = typer.Option(
        None,
        "--features",
        help="model_features.json written by `targets evaluate` (default: the shipped one).",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write the factors (default: edgekit/targets/fitted.json)."
    ),
) -> None:
    """Fit the estimator's factors on published device results and write fitted.json."""
    from edgekit.targets.calibration.features import PACKAGE_FEATURES
    from edgekit.targets.calibration.fitted import build_fitted, write_fitted
    from edgekit.targets.calibration.published import PACKAGE_CALIBRATION
    from edgekit.targets.fitted import FITTED_PATH

    with err_console.status("fitting and cross-validating"):
        data = build_fitted(calibration or PACKAGE_CALIBRATION, features or PACKAGE_FEATURES)
    path = write_fitted(data, out or FITTED_PATH)
    pooled = data["held_out"]["pooled"]
    console.print(
        f"wrote {path}: {data['rows']['used']} published results; held-out median |err| "
        f"LOSO {pooled['loso']['median_abs_pct']:.1f}%, LOMO {pooled['lomo']['median_abs_pct']:.1f}%"
    )


@app.command(
    epilog="Examples:\n\n  edgekit targets evaluate\n\n  edgekit targets evaluate --models 'mobilenet*' --cache /tmp/zoo\n\n  edgekit targets evaluate --json > evaluation.json\n\n"
    "Converts each calibration model to TFLite fp32 and int8 (minutes the first time; cached), then fits and cross-validates."
)
def evaluate(
    models: list[str] = typer.Option(
        [],
        "--models",
        "-m",
        help="Globs over calibration model names (repeatable): fit on those only, features to model_features-selected.json. Default: all.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    cache: Path | None = typer.Option(
        None,
        "--cache",
        help="Where converted models are kept (default: ~/.cache/edgekit/calibration-models).",
    ),
    calibration: Path | None = typer.Option(
        None, "--calibration", help="Folder with published_latency.csv (default: the shipped copy)."
    ),
) -> None:
    """Build the calibration models, fit on published results, print leave-one-source/model-out error per device."""
    from edgekit.targets.calibration.evaluate import evaluate as run
    from edgekit.targets.calibration.published import PACKAGE_CALIBRATION
    from edgekit.targets.report import evaluation_tables

    with err_console.status("building calibration models") as status:
        ev = run(
            models or None,
            cache or _default_cache(),
            calibration or PACKAGE_CALIBRATION,
            progress=lambda s: status.update(f"evaluate: {s}"),
        )
    report = ev.to_dict()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console.print(evaluation_tables(report))
    err_console.print(
        f"features: {ev.features_path} (refit with `edgekit targets fit --features {ev.features_path}`)"
    )


@app.command(
    epilog="Examples:\n\n  edgekit targets calibrate bench-pi.json --name my-pi --base rpi4\n\n  edgekit targets calibrate a.json b.json --name my-pi --base rpi4 --out my-pi.yaml\n\n"
    "  edgekit targets calibrate --device lab-pi4 --name my-pi --threads 4   # measure the built-in suite on the device\n\n"
    "Then: edgekit convert --target my-pi.yaml. The JSON files are `edgekit bench --json` output, or lists of\n"
    '{"artifact": "model.tflite", "p50_ms": 41.2, "threads": 4} objects (see docs/targets.md).'
)
def calibrate(
    bench_json: list[Path] = typer.Argument(None, help="Measured results (JSON). Not with --device."),
    name: str = typer.Option(..., "--name", help="Name of the new profile."),
    base: str | None = typer.Option(
        None,
        "--base",
        help="Profile whose hardware and plan the new one copies (e.g. rpi4). Default: the device's profile in devices.yaml, else host.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Profile YAML to write (default: ./NAME.yaml)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the fitted factors as JSON."),
    device: str | None = typer.Option(
        None,
        "--device",
        "-d",
        help="Measure the built-in calibration suite on this device (ssh://..., adb[:SERIAL] or a devices.yaml name) instead of reading JSON.",
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="With --device: measure at 1..N threads (default: the base profile's cores).",
    ),
    timeout: float = typer.Option(
        600.0, "--timeout", min=1.0, help="With --device: seconds before one measurement is stopped."
    ),
) -> None:
    """Fit a profile on your own measured results (or on the device itself) and report its held-out error."""
    from edgekit.errors import UsageError
    from edgekit.targets.calibration.bench_input import parse_bench_json
    from edgekit.targets.calibration.calibrate import calibrate as run
    from edgekit.targets.calibration.calibrate import write_profile
    from edgekit.targets.profile import resolve_target
    from edgekit.targets.report import calibration_table

    if bool(device) == bool(bench_json):
        raise UsageError(
            "give measured results (bench JSON files) or --device, not " + ("both" if device else "neither"),
            hint="edgekit targets calibrate bench.json --name my-pi --base rpi4, or --device lab-pi4 --name my-pi",
        )
    if device:
        from edgekit.devices.calibrate import calibrate_on_device

        path = out or Path(f"{name}.yaml")
        result, measured, dropped, base = calibrate_on_device(
            device,
            name,
            base,
            threads,
            path,
            timeout,
            lambda s: err_console.print(f"  [dim]{s}[/]", highlight=False),
        )
        for line in dropped:
            err_console.print(f"[yellow]left out[/]: {line}", highlight=False)
        err_console.print(
            f"measurements: {measured} (refit: edgekit targets calibrate {measured} --name {name} --base {base})",
            highlight=False,
        )
    else:
        measurements = [m for path in bench_json for m in parse_bench_json(path)]
        result = run(measurements, resolve_target(base or "host"), name)
        path = write_profile(result.profile, out or Path(f"{name}.yaml"))
    if as_json:
        typer.echo(json.dumps(result.factors, indent=2))
    else:
        console.print(calibration_table(result))
        console.print(f"wrote {path} (use it with --target {path})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="targets")
