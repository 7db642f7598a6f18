"""`edgekit pull` and `edgekit cache ...`: exit codes, messages, JSON."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from sources_support import MOBILENET_KAGGLE, MOBILENET_TFHUB

from edgekit.cli import main

KAGGLE_ID = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"


@pytest.fixture
def cli(server, tmp_path, capsys):
    """Run `edgekit ...` in-process against the loopback server; (rc, stdout, stderr) with spaces normalized."""
    common = ["--lock", str(tmp_path / "edgekit.lock"), "--cache", str(tmp_path / "cache")]

    def run(*args: str, pull: bool = False, cache: bool = False) -> tuple[int, str, str]:
        argv = list(args)
        if pull:  # defaults first, so a test's own options (given later) win
            argv = [args[0], *common, "--hub-url", server.url, "--kaggle-url", server.url, *args[1:]]
        if cache:
            argv += ["--cache", str(tmp_path / "cache")]
        capsys.readouterr()
        rc = main(argv)
        out, err = capsys.readouterr()
        return rc, out, " ".join(err.split())

    return run


def test_pull_records_the_lockfile_and_prints_json(cli, server, tiny_archive, tmp_path):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    rc, out, _ = cli("pull", MOBILENET_TFHUB, MOBILENET_KAGGLE, "--json", pull=True)
    assert rc == 0
    pulled = json.loads(out)
    assert [p["canonical"] for p in pulled] == [KAGGLE_ID, KAGGLE_ID]
    assert pulled[0]["path"] == pulled[1]["path"] and pulled[0]["manifest"]["version"] == 5
    lock = json.loads((tmp_path / "edgekit.lock").read_text())
    assert lock["sources"][KAGGLE_ID]["archive_sha256"] == hashlib.sha256(tiny_archive).hexdigest()


def test_pull_human_output_names_model_path_and_notes(cli, server, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    rc, out, _ = cli("pull", MOBILENET_KAGGLE, pull=True)
    assert rc == 0
    assert KAGGLE_ID in out and "(version 5)" in out and "input 8x8" in out and "note: recorded" in out


def test_unpinned_is_refused_with_exit_3(cli, server):
    rc, _, err = cli("pull", "google/mobilenet-v2/tensorFlow2/100-224-feature-vector", pull=True)
    assert rc == 3
    assert "has no version" in err and "hint: pin it" in err and "--allow-unpinned" in err


def test_hash_mismatch_exits_3_with_both_hashes(cli, server, tiny_archive, tiny_archive_v2, tmp_path):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    assert cli("pull", MOBILENET_KAGGLE, pull=True)[0] == 0
    server.archives[key] = tiny_archive_v2
    assert cli("cache", "prune", "--all", cache=True)[0] == 0  # a fresh machine: only the lockfile remains
    rc, _, err = cli("pull", MOBILENET_KAGGLE, pull=True)
    assert rc == 3
    old, new = hashlib.sha256(tiny_archive).hexdigest(), hashlib.sha256(tiny_archive_v2).hexdigest()
    assert old in err and new in err and "--accept-new-hash" in err
    rc, out, _ = cli("pull", MOBILENET_KAGGLE, "--accept-new-hash", pull=True)
    assert rc == 0 and "accepted new bytes" in " ".join(out.split())


def test_allow_publisher_and_offline_flags(cli, server, tiny_archive):
    server.add_kaggle("acme/net/tensorFlow2/small/1", tiny_archive)
    rc, _, err = cli("pull", "acme/net/tensorFlow2/small/1", pull=True)
    assert rc == 3 and "not in the allowlist" in err
    assert cli("pull", "acme/net/tensorFlow2/small/1", "--allow-publisher", "acme", pull=True)[0] == 0
    hits = sum(server.hits.values())
    rc, _, _ = cli(
        "pull", "acme/net/tensorFlow2/small/1", "--allow-publisher", "acme", "--offline", pull=True
    )
    assert rc == 0 and sum(server.hits.values()) == hits
    rc, _, err = cli(
        "pull", "acme/net/tensorFlow2/small/2", "--allow-publisher", "acme", "--offline", pull=True
    )
    assert rc == 1 and "offline" in err


def test_one_failing_handle_does_not_hide_the_others(cli, server, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    rc, out, err = cli(
        "pull", "keras:NoSuchNet", MOBILENET_KAGGLE, "tfhub:google/absent/feature_vector/1", pull=True
    )
    assert "2 of 3 handles could not be pulled" in err and "HTTP 404" in err
    assert rc == 2  # the worst failure decides the exit code; the good handle was still pulled
    assert KAGGLE_ID in out and "unknown keras.applications architecture" in err


def test_cache_list_verify_prune(cli, server, tiny_archive, tmp_path):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.add_tfhub("google/tiny/feature_vector/1", tiny_archive)
    assert cli("pull", MOBILENET_KAGGLE, pull=True)[0] == 0
    assert (
        cli("pull", "tfhub:google/tiny/feature_vector/1", "--lock", str(tmp_path / "other.lock"), pull=True)[
            0
        ]
        == 0
    )

    rc, out, _ = cli("cache", "list", "--json", cache=True)
    listed = json.loads(out)["entries"]
    assert rc == 0 and sorted(e["canonical"] for e in listed) == sorted(
        [KAGGLE_ID, "tfhub:google/tiny/feature_vector/1"]
    )
    assert all(e["complete"] and e["bytes"] > 0 for e in listed)
    rc, out, _ = cli("cache", "list", cache=True)
    assert rc == 0 and "tfhub:google/tiny" in out and "2.4 KiB" in out

    rc, out, _ = cli("cache", "verify", "--json", cache=True)
    assert rc == 0 and all(e["ok"] for e in json.loads(out)["entries"])
    damaged = next(e for e in listed if e["canonical"] == KAGGLE_ID)
    (
        tmp_path / "cache" / "sources" / damaged["path"].rsplit("/", 1)[1] / "module" / "saved_model.pb"
    ).write_bytes(b"x")
    rc, out, err = cli("cache", "verify", cache=True)
    assert rc == 1 and "DAMAGED" in out and "changed saved_model.pb" in out
    assert "1 cache entry is damaged" in err and "cache prune" in err

    rc, out, _ = cli("cache", "prune", "--json", cache=True)
    pruned = json.loads(out)["pruned"]
    assert rc == 0 and [(p["what"], p["removed"]) for p in pruned] == [(KAGGLE_ID, True)]
    rc, out, _ = cli("cache", "prune", "--keep", str(tmp_path / "edgekit.lock"), "--dry-run", cache=True)
    assert rc == 0 and "would remove tfhub:google/tiny/feature_vector/1" in " ".join(out.split())
    assert len(json.loads(cli("cache", "list", "--json", cache=True)[1])["entries"]) == 1
    assert cli("cache", "prune", "--all", cache=True)[0] == 0
    assert json.loads(cli("cache", "list", "--json", cache=True)[1])["entries"] == []


@pytest.mark.parametrize("command", [["pull"], ["cache", "list"], ["cache", "verify"], ["cache", "prune"]])
def test_help_has_examples(cli, command):
    rc, out, _ = cli(*command, "--help")
    assert rc == 0 and "Examples" in out and "edgekit " + " ".join(command) in out


def test_entry_point_exit_code_for_refusals(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgekit.cli",
            "pull",
            "tfhub:google/tiny/feature_vector",
            "--lock",
            str(tmp_path / "l"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3 and "has no version" in proc.stderr
