"""The GitHub Actions examples users copy: pinned, least-privilege, fork-safe, cached, cancellable,
base and head measured in one job, recipe and target as inputs, a job summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "github"
PR, COMMENT, SHARDED = "edgekit-pr.yml", "edgekit-pr-comment.yml", "edgekit-sharded.yml"
ALL = (PR, COMMENT, SHARDED)
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(name: str) -> dict:
    workflow = yaml.safe_load((EXAMPLES / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _runs(workflow: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in _steps(workflow))


@pytest.mark.parametrize("name", ALL)
def test_every_action_is_pinned_by_full_commit_sha_with_its_tag(name):
    text = (EXAMPLES / name).read_text()
    uses = USES.findall(text)
    assert uses, "no actions found"
    for ref, comment in uses:
        assert PINNED.match(ref), f"{name}: {ref} is not pinned to a 40-hex commit"
        assert re.search(r"#\s*v\d", comment), f"{name}: {ref} has no '# vX.Y.Z' comment"
    # the parsed steps agree with the text scan (no `uses:` hidden in a form the regex misses)
    assert sorted(s["uses"] for s in _steps(_load(name)) if "uses" in s) == sorted(r for r, _ in uses)


@pytest.mark.parametrize("name", ALL)
def test_least_privilege_and_no_pull_request_target(name):
    workflow = _load(name)
    assert workflow["permissions"] == {"contents": "read"}
    assert "pull_request_target" not in workflow["on"]
    for job in workflow["jobs"].values():  # write access only in the job that posts, and never with PR code
        perms = job.get("permissions", {})
        if any(v == "write" for v in perms.values()):
            assert name == COMMENT and perms == {"actions": "read", "pull-requests": "write"}


@pytest.mark.parametrize("name", ALL)
def test_superseded_runs_are_cancelled(name):
    concurrency = _load(name)["concurrency"]
    assert concurrency["cancel-in-progress"] is True and "${{" in concurrency["group"]


def test_the_comment_workflow_never_runs_pull_request_code():
    workflow = _load(COMMENT)
    assert workflow["on"] == {"workflow_run": {"workflows": [_load(PR)["name"]], "types": ["completed"]}}
    steps = _steps(workflow)
    assert not any("checkout" in s.get("uses", "") for s in steps)
    assert not any("run" in s for s in steps)  # no shell at all: only download and github-script
    script = next(s["with"]["script"] for s in steps if "github-script" in s.get("uses", ""))
    assert "/^[0-9]{1,9}$/" in script  # the PR number from the artifact is validated
    assert "workflow_run.head_sha" in script  # and must name the commit that was measured
    download = next(s for s in steps if "download-artifact" in s.get("uses", ""))
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


def test_the_pr_workflow_uploads_the_comment_and_never_posts_it():
    workflow = _load(PR)
    assert set(workflow["on"]) == {"pull_request", "workflow_dispatch", "workflow_call"}
    uploads = [s for s in _steps(workflow) if "upload-artifact" in s.get("uses", "")]
    assert any(s["with"]["name"] == "edgekit-comment" for s in uploads)
    runs = _runs(workflow)
    assert "gh pr comment" not in runs and "GH_TOKEN" not in (EXAMPLES / PR).read_text()
    assert "$GITHUB_STEP_SUMMARY" in runs


def test_base_and_head_are_measured_in_one_job_and_compared():
    workflow = _load(PR)
    assert len(workflow["jobs"]) == 1
    runs = _runs(workflow)
    assert "git worktree add" in runs
    converts = re.findall(
        r"edgekit convert \"\$RECIPE\" --target \"\$TARGET\" --out \"\$RUNNER_TEMP/(\w+)-out\"", runs
    )
    assert converts == ["base", "head"]
    assert re.search(r"edgekit check \"\$RUN_DIR\" --baseline \"\$BASE_RUN_DIR/report.json\"", runs)
    checkout = next(s for s in _steps(workflow) if "checkout" in s.get("uses", ""))
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", [PR, SHARDED])
def test_recipe_and_targets_are_inputs_not_a_hard_coded_run_folder(name):
    workflow, text = _load(name), (EXAMPLES / name).read_text()
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert "recipe" in inputs and ("target" in inputs or "targets" in inputs)
    if name == PR:
        assert set(workflow["on"]["workflow_call"]["inputs"]) == set(inputs)
    assert "inputs.recipe" in workflow["env"]["RECIPE"]
    assert "out/demo" not in text and "RUN_DIR: out/" not in text


@pytest.mark.parametrize("name", [PR, SHARDED])
def test_package_and_edgekit_caches(name):
    steps = _steps(_load(name))
    assert any("setup-uv" in s.get("uses", "") and s["with"]["enable-cache"] is True for s in steps)
    cache = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert cache and cache[0]["with"]["path"] == "~/.cache/edgekit"
    assert "hashFiles(env.RECIPE, 'uv.lock')" in cache[0]["with"]["key"]


def test_every_run_script_is_valid_bash():
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to parse the run scripts with")
    for name in ALL:
        for step in _steps(_load(name)):
            if "run" in step:
                out = subprocess.run([bash, "-n"], input=step["run"], capture_output=True, text=True)
                assert out.returncode == 0, f"{name}: {step.get('name', step['run'][:40])}: {out.stderr}"
