"""A reference that learned nothing is flagged: in the train step, the summary, report.json/md/html
and `edgekit check` (a failing verdict whatever the baseline says)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from synthetic import make_report

from edgekit.cli import main
from edgekit.report.check import Thresholds, compare_reports
from edgekit.report.html import render_html
from edgekit.report.markdown import render_markdown
from edgekit.report.schema import report_schema, schema_errors
from edgekit.report.summary import print_summary
from edgekit.train.evaluate import chance_check, loss_curve

FOUR_BALANCED = np.repeat(np.arange(4), 6)  # 24 test images, 4 classes


def test_chance_level_accuracy_is_flagged_and_a_learned_one_is_not():
    at_chance = chance_check(0.25, FOUR_BALANCED, 4)
    assert not at_chance["beats_chance"] and at_chance["chance_accuracy"] == 0.25
    assert "does not clearly beat chance 0.250" in at_chance["flags"][0]
    # 24 images: a chance-level model scores up to about 0.43 by luck, so 0.40 is not clear
    assert not chance_check(0.40, FOUR_BALANCED, 4)["beats_chance"]
    learned = chance_check(0.875, FOUR_BALANCED, 4, [1.39, 0.9, 0.4])
    assert learned["beats_chance"] and learned["loss_moved"] and learned["flags"] == []


def test_chance_is_the_majority_class_when_the_test_set_is_unbalanced():
    labels = np.array([0] * 18 + [1, 2, 3] * 2)  # always answering class 0 scores 0.75
    check = chance_check(0.75, labels, 4)
    assert check["chance_accuracy"] == 0.75 and not check["beats_chance"]


def test_a_loss_that_did_not_move_is_flagged_even_when_accuracy_looks_fine():
    phases = [
        {"history": {"loss": [1.2, 1.1], "val_loss": [1.3863, 1.3862]}},
        {"history": {"loss": [1.0, 0.9], "val_loss": [1.3861, 1.3860]}},
    ]
    curve = loss_curve(phases)
    assert curve == ("validation loss", [1.3863, 1.3862, 1.3861, 1.3860])  # a fixed set: no batch noise
    check = chance_check(0.9, FOUR_BALANCED, 4, curve)
    assert check["beats_chance"] and check["loss_moved"] is False
    assert check["flags"] == [
        (
            "validation loss did not move: 1.3863 in the first epoch, 1.3860 in the last (4 epochs); "
            "check the learning rate and that the backbone is not random"
        )
    ]
    assert loss_curve([{"history": {"loss": [2.0, 1.0]}}]) == ("training loss", [2.0, 1.0])


def test_a_loss_never_better_than_a_uniform_guess_is_flagged():
    # moving (batch noise), but never below ln(4) = 1.386: the model predicts no better than 1/4 each
    check = chance_check(0.9, FOUR_BALANCED, 4, ("validation loss", [1.58, 1.54]))
    assert (
        check["loss_moved"] is False
        and "never fell below 1.5400, no better than a uniform guess" in check["flags"][0]
    )
    assert chance_check(0.9, FOUR_BALANCED, 4, [1.39])["loss_moved"] is False  # one epoch is enough to tell
    assert chance_check(0.9, FOUR_BALANCED, 4, [0.9])["loss_moved"] is True
    assert chance_check(0.9, FOUR_BALANCED, 4)["loss_moved"] is None  # no history: nothing to judge


def test_train_step_judges_a_reused_reference_too(tmp_path):
    from edgekit import stages

    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "train.json").write_text(
        json.dumps(
            {
                "test_accuracy": 0.25,
                "test_images": 24,
                "class_names": ["a", "b", "c", "d"],
                "phases": [{"history": {"loss": [1.3863, 1.3863, 1.3863]}}],
            }
        )
    )
    notes = []

    @contextmanager
    def step(name, status=""):
        yield notes.append

    ctx = SimpleNamespace(
        run_dir=tmp_path,
        recipe=SimpleNamespace(section_dict=lambda name: {}),
        steps=SimpleNamespace(step=step, is_done=lambda *a: True),
    )
    data = SimpleNamespace(
        fingerprint="f", preproc=None, splits=SimpleNamespace(test=SimpleNamespace(labels=FOUR_BALANCED))
    )
    reference = stages.train_step(ctx, SimpleNamespace(sha256="s"), data)
    assert len(reference.health["flags"]) == 2 and "not clearly better than chance" in notes[-1]


def _flagged_report() -> dict:
    report = make_report()
    report["reference"]["test_accuracy"] = 0.25
    report["reference"]["health"] = chance_check(0.25, FOUR_BALANCED, 4, [1.3863, 1.3863])
    return report


def test_reports_and_summary_say_the_reference_is_not_trustworthy(tmp_path, capsys):
    report = _flagged_report()
    assert schema_errors(report, report_schema()) == []
    md = render_markdown(report)
    assert md.count("⚠ **reference not trustworthy**") == 2 and "does not clearly beat chance 0.250" in md
    html = render_html(report)
    assert html.count("⚠ reference not trustworthy") == 2
    print_summary(report, tmp_path)
    out = capsys.readouterr().out
    assert "reference not trustworthy" in out and "training loss did not move" in out
    clean = make_report()
    assert "not trustworthy" not in render_markdown(clean) + render_html(clean)


def test_check_fails_a_flagged_reference_whatever_the_baseline(tmp_path, capsys):
    report = _flagged_report()
    result = compare_reports(report, report, Thresholds())  # identical to its baseline
    assert not result.passed
    assert [(f.artifact, f.metric) for f in result.regressions] == [("reference", "learned the task")] * 2
    assert compare_reports(make_report(), make_report(), Thresholds()).passed
    new, base = tmp_path / "new.json", tmp_path / "base.json"
    new.write_text(json.dumps(report))
    base.write_text(json.dumps(report))
    assert main(["check", str(new), "--baseline", str(base)]) == 1
    assert "| reference | learned the task |" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [{"flags": "x"}, {"beats_chance": "no"}])
def test_schema_names_a_malformed_health_field(bad):
    report = make_report()
    report["reference"]["health"] = bad
    assert schema_errors(report, report_schema())[0].startswith("$.reference.health.")
