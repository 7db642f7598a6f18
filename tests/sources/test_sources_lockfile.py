"""edgekit.lock: recorded on first pull, verified after, refused on mismatch with both hashes."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace

import pytest
from sources_support import MOBILENET_KAGGLE, folder_files

from edgekit.errors import IntegrityError, UsageError
from edgekit.fsutil import sha256_tree
from edgekit.sources import resolve_source
from edgekit.sources.cache import Cache
from edgekit.sources.lockfile import LockEntry, Lockfile
from edgekit.sources.module_check import tree_hash
from edgekit.sources.resolve import lockfile_path

KAGGLE_ID = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_first_pull_records_archive_and_file_hashes(server, settings, tiny_archive, tiny_module):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    resolved = resolve_source(MOBILENET_KAGGLE, settings)
    lock = json.loads(settings.lockfile.read_text())
    entry = lock["sources"][KAGGLE_ID]
    assert lock["edgekit_lock"] == 1
    assert entry["archive_sha256"] == _sha(tiny_archive) == resolved.manifest["archive_sha256"]
    assert entry["files"] == {k: _sha(v) for k, v in folder_files(tiny_module).items()}
    assert any("recorded" in n for n in resolved.notes)
    assert resolved.sha256 == sha256_tree(resolved.path)


def test_new_bytes_for_a_locked_handle_are_refused_with_both_hashes(
    server, settings, tiny_archive, tiny_archive_v2
):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    resolve_source(MOBILENET_KAGGLE, settings)
    server.archives[key] = tiny_archive_v2  # the publisher re-uploaded version 5
    colleague = replace(settings, cache_dir=settings.cache_dir.with_name("colleague-cache"))
    with pytest.raises(IntegrityError) as err:
        resolve_source(MOBILENET_KAGGLE, colleague)
    message = str(err.value)
    assert _sha(tiny_archive) in message and _sha(tiny_archive_v2) in message
    assert "--accept-new-hash" in err.value.hint
    assert Cache(colleague.cache_root()).lookup(KAGGLE_ID) is None  # refused bytes are not cached
    assert json.loads(settings.lockfile.read_text())["sources"][KAGGLE_ID]["archive_sha256"] == _sha(
        tiny_archive
    )

    accepted = resolve_source(MOBILENET_KAGGLE, replace(colleague, accept_new_hash=True))
    assert any("accepted new bytes" in n for n in accepted.notes)
    entry = json.loads(settings.lockfile.read_text())["sources"][KAGGLE_ID]
    assert entry["archive_sha256"] == _sha(tiny_archive_v2) and "assets/NOTICE" in entry["files"]
    assert resolve_source(MOBILENET_KAGGLE, colleague).path == accepted.path  # verifies cleanly now


def test_cached_bytes_that_differ_from_the_lockfile_are_refused(server, settings, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    resolve_source(MOBILENET_KAGGLE, settings)
    lock = json.loads(settings.lockfile.read_text())
    lock["sources"][KAGGLE_ID]["files"]["saved_model.pb"] = "0" * 64  # lockfile from another machine
    settings.lockfile.write_text(json.dumps(lock))
    with pytest.raises(IntegrityError, match="saved_model.pb: have [0-9a-f]{64}, lockfile 0{64}"):
        resolve_source(MOBILENET_KAGGLE, settings)


def test_lockfile_sits_beside_the_recipe(server, settings, tiny_archive, tmp_path):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    recipe_dir = tmp_path / "project"
    recipe_dir.mkdir()
    no_lock = replace(settings, lockfile=None)
    assert lockfile_path(no_lock, recipe_dir) == recipe_dir / "edgekit.lock"
    resolve_source(MOBILENET_KAGGLE, no_lock, base_dir=recipe_dir)
    assert KAGGLE_ID in json.loads((recipe_dir / "edgekit.lock").read_text())["sources"]


def test_lockfile_updates_can_be_turned_off(server, settings, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    resolved = resolve_source(MOBILENET_KAGGLE, replace(settings, update_lock=False))
    assert not settings.lockfile.exists() and any("not recorded" in n for n in resolved.notes)


def test_unchanged_pull_leaves_the_lockfile_alone(server, settings, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    resolve_source(MOBILENET_KAGGLE, settings)
    stamp = settings.lockfile.stat().st_mtime_ns
    again = resolve_source(MOBILENET_KAGGLE, settings)
    assert settings.lockfile.stat().st_mtime_ns == stamp
    assert not any("recorded" in n or "updated" in n for n in again.notes)


def test_lockfile_roundtrip_and_merge(tmp_path):
    path = tmp_path / "edgekit.lock"
    a = Lockfile.load(path)
    b = Lockfile.load(path)  # two processes that loaded before either wrote
    a.record(
        "kaggle:x/y/tensorflow2/z/1",
        LockEntry("a" * 64, {"saved_model.pb": "1" * 64}),
        resolved_from=None,
        lock_dir=tmp_path,
    )
    b.record(
        "kaggle:x/y/tensorflow2/w/2",
        LockEntry("b" * 64, {"saved_model.pb": "2" * 64}, ["ReadFile"]),
        resolved_from="kaggle:x/y/tensorflow2/w",
        lock_dir=tmp_path,
    )
    merged = Lockfile.load(path)
    assert set(merged.entries) == {"kaggle:x/y/tensorflow2/z/1", "kaggle:x/y/tensorflow2/w/2"}
    assert merged.get("kaggle:x/y/tensorflow2/w/2").unsafe_ops_allowed == ["ReadFile"]
    assert merged.resolved_for("kaggle:x/y/tensorflow2/w") == "kaggle:x/y/tensorflow2/w/2"
    assert path.read_text() == json.dumps(merged.to_json(), indent=2) + "\n"


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"edgekit_lock": 99}', '{"edgekit_lock": 1, "sources": {"k": {"files": {}}}}'],
)
def test_broken_lockfiles_are_usage_errors(tmp_path, content):
    (tmp_path / "edgekit.lock").write_text(content)
    with pytest.raises(UsageError) as err:
        Lockfile.load(tmp_path / "edgekit.lock")
    assert err.value.hint


def test_tree_hash_matches_fsutil(tiny_module, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(tiny_module, folder)
    (folder / "a.b").write_text("sorted before a/ as a string, after it as path parts")
    (folder / "a").mkdir()
    (folder / "a" / "x").write_text("x")
    files = {k: _sha(v) for k, v in folder_files(folder).items()}
    assert tree_hash(files) == sha256_tree(folder)
