"""One command for several targets: training and conversion happen once, bench and estimate per target."""

from __future__ import annotations

import json
import os

import pytest
from demo_settings import TFLITE_FP32_INT8, tiny_demo

from edgekit.cli import main
from edgekit.errors import UnknownNameError, UsageError
from edgekit.multirun import expand_targets

TINY = [*tiny_demo(), *TFLITE_FP32_INT8]
TARGETS = ("rpi4", "rpi5", "android-mid")


def test_expand_targets_commas_repeats_aliases_and_all():
    assert expand_targets(["rpi4,rpi5", "browser"]) == ["rpi4", "rpi5", "browser"]
    assert expand_targets(["rpi", "rpi4"]) == ["rpi"]  # an alias and its profile are one target
    from edgekit.targets.profile import builtin_targets

    assert (
        expand_targets(["all"]) == [e.name for e in builtin_targets()] and len(expand_targets(["all"])) >= 8
    )
    with pytest.raises(UnknownNameError):
        expand_targets(["rpi4,rpi44"])


def _records(run_dir, prefix):
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / "steps").glob(f"{prefix}*.json")}


@pytest.fixture(scope="module")
def three_targets(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi")
    old = os.environ.get("EDGEKIT_CACHE")
    os.environ["EDGEKIT_CACHE"] = str(out / "cache")
    try:
        yield main(["convert", "--target", ",".join(TARGETS), "--out", str(out), *TINY]), out / "demo"
    finally:
        if old is None:
            os.environ.pop("EDGEKIT_CACHE", None)
        else:
            os.environ["EDGEKIT_CACHE"] = old


def test_three_targets_train_once_and_convert_each_artifact_once(three_targets):
    rc, recipe_dir = three_targets
    assert rc == 0
    runs = [recipe_dir / t for t in TARGETS]
    train = [_records(r, "train")["train"] for r in runs]
    assert sum(bool(t.get("made_here")) for t in train) == 1
    assert [t.get("reused_from") for t in train[1:]] == ["rpi4", "rpi4"] and len(
        {t["key"] for t in train}
    ) == 1
    for name in ("convert-tflite-fp32", "convert-tflite-int8"):
        records = [_records(r, name)[name] for r in runs]
        assert sum(bool(r.get("made_here")) for r in records) == 1, (name, records)
        assert all(r.get("reused_from") == "rpi4" for r in records[1:])
    sizes = {(r / "artifacts/tflite-int8/model.tflite").stat().st_ino for r in runs}
    assert len(sizes) == 1  # the same bytes on disk, hard-linked


def test_each_target_has_its_own_report_and_estimate_and_a_cross_target_table(three_targets):
    _, recipe_dir = three_targets
    estimates = {}
    for t in TARGETS:
        report = json.loads((recipe_dir / t / "report.json").read_text())
        assert report["target"]["name"] == t
        estimates[t] = {a["quant"]: a["estimate"] for a in report["artifacts"]}
    assert estimates["rpi4"] != estimates["rpi5"]  # estimated per target, not copied
    table = json.loads((recipe_dir / "targets.json").read_text())
    assert table["targets"] == list(TARGETS) and len(table["rows"]) == 6
    assert "| android-mid | tflite | int8 |" in (recipe_dir / "targets.md").read_text()
    page = (recipe_dir / "targets.html").read_text()
    assert all(f'href="{t}/report.html"' in page for t in TARGETS)


def test_shard_split_is_deterministic_and_covers_every_cell_once():
    from edgekit.shard import Shard, parse_shard, split

    cells = [(t, "tflite", q) for t in ("a", "b", "c") for q in ("fp32", "int8", "fp16")]
    shards = [split(cells, Shard(k, 4)) for k in range(1, 5)]
    seen = [(t, f, q) for s in shards for t, own in s.items() for f, q in own]
    assert sorted(seen) == sorted(cells) and split(cells, Shard(2, 4)) == shards[1]
    assert parse_shard("2/4") == Shard(2, 4)
    for bad in ("0/4", "5/4", "2", "a/b", "1/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def _verdicts(report):
    return [
        (a["format"], a["quant"], a["status"], (a.get("parity") or {}).get("verdict"))
        for a in report["artifacts"]
    ]


def test_shards_merged_equal_the_unsharded_report(three_targets, tmp_path, capsys):
    _, unsharded = three_targets
    shard_dirs = []
    for k in (1, 2):
        out = tmp_path / f"shard{k}"
        assert (
            main(["convert", "--target", ",".join(TARGETS), "--out", str(out), "--shard", f"{k}/2", *TINY])
            == 0
        )
        shard_dirs.append(out / "demo")
    first = json.loads((shard_dirs[0] / "rpi4" / "report.json").read_text())
    assert first["shard"]["cells"] == [["tflite", "fp32"]] and len(first["artifacts"]) == 1
    # a shard report checked against the full baseline: the other shard's row is not a regression
    capsys.readouterr()
    main(
        [
            "check",
            str(shard_dirs[0] / "rpi4"),
            "--baseline",
            str(unsharded / "rpi4" / "report.json"),
            "--json",
        ]
    )
    findings = {f["artifact"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert (
        findings["tflite-int8"]["new"] == "not run by this shard (1/2)"
        and not findings["tflite-int8"]["regression"]
    )
    # (the tiny training does not beat chance, so check still fails on the reference flag, which is right)
    reports = [str(d / t) for d in shard_dirs for t in TARGETS]
    assert main(["report", "merge", *reports, "--out", str(tmp_path / "merged")]) == 0
    for t in TARGETS:
        merged = json.loads((tmp_path / "merged" / t / "report.json").read_text())
        full = json.loads((unsharded / t / "report.json").read_text())
        assert "shard" not in merged and _verdicts(merged) == _verdicts(full)


def test_merge_refuses_an_incomplete_set_of_shards(three_targets, tmp_path, capsys):
    _, unsharded = three_targets
    report = json.loads((unsharded / "rpi4" / "report.json").read_text())
    report["shard"] = {
        "index": 1,
        "count": 2,
        "planned": [["tflite", "fp32"], ["tflite", "int8"]],
        "cells": [["tflite", "fp32"]],
    }
    report["artifacts"] = [a for a in report["artifacts"] if a["quant"] == "fp32"]
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert main(["report", "merge", str(tmp_path / "report.json"), "--out", str(tmp_path / "m")]) == 1
    assert not (tmp_path / "m" / "report.json").exists()
    capsys.readouterr()
    # and a row the shard should have had, but lacks, is a regression
    report["shard"]["cells"].append(["tflite", "int8"])
    (tmp_path / "report.json").write_text(json.dumps(report))
    main(
        [
            "check",
            str(tmp_path / "report.json"),
            "--baseline",
            str(unsharded / "rpi4" / "report.json"),
            "--json",
        ]
    )
    findings = {f["artifact"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert (
        findings["tflite-int8"]["new"] == "missing from the report" and findings["tflite-int8"]["regression"]
    )


def test_a_later_single_target_run_reuses_the_training_too(three_targets):
    _, recipe_dir = three_targets
    assert main(["convert", "--target", "rpi-zero2w", "--out", str(recipe_dir.parent), *TINY]) == 0
    train = _records(recipe_dir / "rpi-zero2w", "train")["train"]
    assert train.get("reused_from") in TARGETS


def test_a_narrowed_run_keeps_the_other_rows_of_the_report(three_targets):
    from edgekit.report.carry import EARLIER

    _, recipe_dir = three_targets
    narrowed = [a for a in TINY if a not in ("fp32",)]
    narrowed.remove("--quant")  # TINY without "--quant fp32": only int8 is redone
    assert main(["convert", "--target", "android-mid", "--out", str(recipe_dir.parent), *narrowed]) == 0
    rows = {
        a["quant"]: a
        for a in json.loads((recipe_dir / "android-mid" / "report.json").read_text())["artifacts"]
    }
    assert set(rows) == {"fp32", "int8"}
    assert EARLIER in rows["fp32"]["notes"] and EARLIER not in rows["int8"]["notes"]


def test_earlier_rows_are_dropped_when_the_reference_changed(tmp_path):
    from edgekit.report.carry import carry_earlier_rows

    previous = {
        "reference": {"key": "old"},
        "target": {"name": "rpi4"},
        "artifacts": [{"format": "tflite", "quant": "fp32", "status": "failed", "notes": []}],
    }
    (tmp_path / "report.json").write_text(json.dumps(previous))
    report = {"reference": {"key": "new"}, "target": {"name": "rpi4"}, "artifacts": []}
    assert carry_earlier_rows(report, tmp_path) == 0 and report["artifacts"] == []
    report["reference"]["key"] = "old"
    assert carry_earlier_rows(report, tmp_path) == 1 and report["artifacts"][0]["status"] == "failed"
    previous["artifacts"][0]["status"] = "ok"  # an ok row whose artifact folder is gone is not carried
    (tmp_path / "report.json").write_text(json.dumps(previous))
    report["artifacts"] = []
    assert carry_earlier_rows(report, tmp_path) == 0


def test_force_trains_again(three_targets):
    _, recipe_dir = three_targets
    assert main(["convert", "--target", "rpi5", "--out", str(recipe_dir.parent), "--force", *TINY]) == 0
    assert _records(recipe_dir / "rpi5", "train")["train"].get("made_here") is True


def test_sharded_workflow_example_is_valid_yaml_and_uses_the_commands():
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "examples" / "github" / "edgekit-sharded.yml"
    workflow = yaml.safe_load(path.read_text())
    shard_steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["shard"]["steps"])
    merge_steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["merge"]["steps"])
    assert len(workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]) == int(workflow["env"]["SHARDS"])
    assert '--shard "${{ matrix.shard }}/$SHARDS"' in shard_steps
    assert "edgekit report merge" in merge_steps and "edgekit check" in merge_steps


def test_a_missing_converter_for_a_later_target_stops_before_the_first(tmp_path, monkeypatch, capsys):
    from edgekit.setup import tfjs_converter

    monkeypatch.setattr(tfjs_converter, "converter_location", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "--target", "rpi4,browser", "--out", str(tmp_path / "out"), *TINY[:8]]) == 2
    assert "edgekit setup tfjs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # rpi4 did not run
