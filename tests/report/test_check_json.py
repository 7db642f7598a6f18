"""`edgekit check --json`: the verdict, thresholds and every finding as one JSON document on stdout."""

from __future__ import annotations

import json

from synthetic import make_report

from edgekit.cli import main


def _report(path, test_accuracy=0.9, flags=()):
    report = make_report()
    report["reference"]["test_accuracy"] = test_accuracy
    report["reference"]["health"] = {"flags": list(flags)}
    path.write_text(json.dumps(report))
    return str(path)


def test_check_json_gives_the_verdict_and_every_finding(tmp_path, capsys):
    base = _report(tmp_path / "base.json")
    assert main(["check", base, "--baseline", base, "--json"]) == 0
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert doc["passed"] is True and doc["regressions"] == 0 and doc["baseline"] == base
    assert doc["thresholds"] == {
        "max_latency_regression": 0.10,
        "max_accuracy_drop": 1.0,
        "max_size_growth": 0.05,
    }
    assert {f["metric"] for f in doc["findings"]} == {"latency p50", "accuracy", "parity", "size"}
    assert all(f["regression"] is False for f in doc["findings"])
    assert doc["confidence"] == 0.95 and "whole bootstrap interval" in doc["latency_rule"]
    for f in (f for f in doc["findings"] if f["metric"] == "latency p50"):
        assert f["ratio"] == 1.0 and f["ci_low"] <= 1.0 <= f["ci_high"]  # the baseline against itself

    flagged = _report(
        tmp_path / "flagged.json", 0.25, ["reference test accuracy 0.250 does not clearly beat chance 0.250"]
    )
    md = tmp_path / "diff.md"
    assert main(["check", flagged, "--baseline", base, "--json", "--markdown", str(md)]) == 1
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert doc["passed"] is False and doc["regressions"] == 1
    assert next(f for f in doc["findings"] if f["regression"])["metric"] == "learned the task"
    assert "| reference | learned the task |" in md.read_text()  # the table still goes to --markdown


def test_check_json_with_update_baseline_keeps_stdout_json(tmp_path, capsys):
    new = _report(tmp_path / "new.json")
    target = tmp_path / "baseline.json"
    assert main(["check", new, "--baseline", str(target), "--json", "--update-baseline"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["baseline_written"] is True and "wrote this report there" in err
    assert main(["check", new, "--baseline", str(target), "--json", "--update-baseline"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["passed"] is True and "updated baseline" in err
