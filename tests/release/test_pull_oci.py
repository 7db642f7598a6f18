"""`edgekit pull oci://…`: a signed release is a source, pinned in edgekit.lock and verified like a
Hub handle (a moved tag with other bytes is refused), against a real registry on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from synthetic import write_run_dir

from edgekit.cli import main
from edgekit.errors import IntegrityError

pytest.importorskip("cryptography", reason="the `release` extra is not installed")


def _release_with_reference(root, reference, key, version="1.0.0"):
    run = write_run_dir(root)
    shutil.rmtree(run / "reference" / "saved_model", ignore_errors=True)
    shutil.copytree(reference / "saved_model", run / "reference" / "saved_model")
    assert (
        main(["release", str(run), "--version", version, "--out", str(root / "releases"), "--sign", str(key)])
        == 0
    )
    return root / "releases" / "demo" / version


@pytest.fixture()
def published(tmp_path, tiny_reference, registry, monkeypatch):
    key = tmp_path / "team.key"
    assert main(["release", "keygen", str(key)]) == 0
    folder = _release_with_reference(tmp_path / "a", tiny_reference, key)
    ref = f"oci://{registry}/team/backbone"
    assert main(["release", "push", str(folder), ref]) == 0
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGEKIT_TRUSTED_KEYS", f"{key}.pub")
    return ref, folder, key


def test_pull_pins_the_release_in_the_lockfile_and_reuses_the_cache(
    published, tmp_path, tiny_reference, capsys
):
    ref, folder, _ = published
    lock = tmp_path / "edgekit.lock"
    assert main(["pull", f"{ref}:1.0.0", "--lock", str(lock), "--json"]) == 0
    resolved = json.loads(capsys.readouterr().out)[0]
    assert resolved["canonical"] == f"{ref}:1.0.0" and resolved["kind"] == "oci"
    assert resolved["manifest"]["signer"].startswith("SHA256:") and resolved["info"]["input_size"] == [32, 32]
    entry = json.loads(lock.read_text())["sources"][f"{ref}:1.0.0"]
    assert entry["archive_sha256"] == hashlib.sha256((folder / "reference.tar.gz").read_bytes()).hexdigest()
    assert (
        entry["files"]["saved_model.pb"]
        == hashlib.sha256((tiny_reference / "saved_model/saved_model.pb").read_bytes()).hexdigest()
    )
    before = lock.read_text()
    assert main(["pull", f"{ref}:1.0.0", "--lock", str(lock)]) == 0
    assert "cache hit" in capsys.readouterr().out and lock.read_text() == before


def test_a_moved_tag_with_other_bytes_is_refused_by_the_lockfile(published, tmp_path, monkeypatch, capsys):
    from tiny_models import TINY_CLASSES, TINY_SIZE, build_tiny_classifier

    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing

    ref, _, key = published
    lock = tmp_path / "edgekit.lock"
    assert main(["pull", f"{ref}:1.0.0", "--lock", str(lock)]) == 0
    other = tmp_path / "other-reference"
    export_reference(build_tiny_classifier(seed=1), other, Preprocessing(TINY_SIZE), TINY_CLASSES)
    moved = _release_with_reference(tmp_path / "b", other, key)  # same key, same version, other weights
    assert main(["release", "push", str(moved), ref]) == 0
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "fresh-cache"))
    capsys.readouterr()
    assert main(["pull", f"{ref}:1.0.0", "--lock", str(lock)]) == IntegrityError.exit_code
    assert "archive sha256 is" in capsys.readouterr().err


def test_untrusted_unpinned_and_moving_tags_are_refused(published, tmp_path, monkeypatch, capsys):
    ref, _, _ = published
    lock = tmp_path / "edgekit.lock"
    for spec, code, why in [(ref, 2, "has no version"), (f"{ref}:latest", 2, "not a release version")]:
        capsys.readouterr()
        assert main(["pull", spec, "--lock", str(lock)]) == code
        assert why in capsys.readouterr().err
    assert main(["release", "keygen", str(tmp_path / "stranger.key")]) == 0
    monkeypatch.setenv("EDGEKIT_TRUSTED_KEYS", str(tmp_path / "stranger.key.pub"))
    capsys.readouterr()
    assert main(["pull", f"{ref}:1.0.0", "--lock", str(lock)]) == IntegrityError.exit_code
    assert "not among the trusted keys" in capsys.readouterr().err
    monkeypatch.delenv("EDGEKIT_TRUSTED_KEYS")
    assert main(["pull", f"{ref}:1.0.0", "--lock", str(lock)]) == 2
    assert not lock.exists() and not list((tmp_path / "cache" / "sources").glob("oci*"))
