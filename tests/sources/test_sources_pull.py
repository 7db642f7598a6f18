"""Pulling from a loopback server that behaves like tfhub.dev and Kaggle Models."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from sources_support import MOBILENET_KAGGLE, MOBILENET_TFHUB, TINY_DIM, snapshot, tar_gz

from edgekit.errors import IntegrityError, RefusedError, SourceError, UnsafeModelError
from edgekit.sources import resolve_source
from edgekit.sources.cache import Cache

KAGGLE_ID = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"


def entries(settings) -> list:
    return [e for _, e in Cache(settings.cache_root()).entries()]


def test_tfhub_download_then_cache_hit(server, settings, tiny_archive):
    key = server.add_tfhub("google/tiny/feature_vector/1", tiny_archive)
    first = resolve_source("https://tfhub.dev/google/tiny/feature_vector/1", settings)
    assert first.canonical == "tfhub:google/tiny/feature_vector/1" and first.kind == "tfhub"
    assert (first.path / "saved_model.pb").is_file() and first.info.output_dim == TINY_DIM
    assert server.hits[key] == 1 and any("downloaded" in n for n in first.notes)
    second = resolve_source(f"{server.url}/google/tiny/feature_vector/1", settings)  # the mirror's own URL
    assert server.hits[key] == 1 and any("cache hit" in n for n in second.notes)
    assert (second.path, second.sha256) == (first.path, first.sha256)
    assert len(entries(settings)) == 1


def test_tfhub_and_kaggle_spellings_share_one_entry_and_one_download(server, settings, tiny_archive):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    from_tfhub = resolve_source(MOBILENET_TFHUB, settings)
    from_kaggle = resolve_source(MOBILENET_KAGGLE, settings)
    from_url = resolve_source(f"https://www.kaggle.com/models/{MOBILENET_KAGGLE}", settings)
    assert from_tfhub.canonical == from_kaggle.canonical == from_url.canonical == KAGGLE_ID
    assert from_tfhub.path == from_kaggle.path == from_url.path
    assert server.hits[key] == 1 and len(entries(settings)) == 1
    assert any("moved to Kaggle Models" in n for n in from_tfhub.notes)
    # the tiny module's signature says 8x8; the catalogue says what the real one is trained at
    assert from_kaggle.info.input_size == (8, 8)


def test_kaggle_goes_through_a_signed_redirect_without_leaking_credentials(
    server, settings, tiny_archive, monkeypatch
):
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret")
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    resolved = resolve_source(MOBILENET_KAGGLE, settings)
    api = server.requests_to(
        "/api/v1/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5/download"
    )
    storage = server.requests_to("/storage/")
    assert len(api) == 1 and len(storage) == 1
    assert api[0][1]["authorization"] == "Basic " + base64.b64encode(b"ada:s3cret").decode()
    assert "authorization" not in storage[0][1]  # never sent to the storage host
    assert "X-Goog-Signature=" in storage[0][0]
    entry = json.loads((resolved.path.parent / "entry.json").read_text())
    assert "Signature" not in json.dumps(entry)  # the signed URL is not persisted


def test_expired_signed_url_is_fetched_afresh(server, settings, tiny_archive):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.expire_next[key] = 1
    resolved = resolve_source(MOBILENET_KAGGLE, settings)
    assert (resolved.path / "saved_model.pb").is_file()
    assert len(server.requests_to("/api/v1/models/")) == 2  # a new signed URL for the retry
    assert server.hits[key] == 1


@pytest.mark.parametrize("fraction", [0.10, 0.50, 0.99])
def test_dropped_connection_serves_nothing_partial_and_a_retry_succeeds(
    server, settings, tiny_archive, fraction
):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.drops[key] = [fraction]
    one_try = replace(settings, retries=1)
    with pytest.raises(SourceError) as err:
        resolve_source(MOBILENET_KAGGLE, one_try)
    assert "closed after" in str(err.value) and "nothing partial was kept" in err.value.hint
    cache = Cache(settings.cache_root())
    assert cache.lookup(KAGGLE_ID) is None and cache.staging_leftovers() == []
    assert not settings.lockfile.exists()
    resolved = resolve_source(MOBILENET_KAGGLE, one_try)  # the user runs again
    assert (
        server.hits[key] == 2
        and Cache(settings.cache_root()).verify(Cache(settings.cache_root()).lookup(KAGGLE_ID)) == []
    )
    assert resolved.sha256


def test_dropped_connection_is_retried_within_one_pull(server, settings, tiny_archive):
    key = server.add_tfhub("google/tiny/feature_vector/1", tiny_archive)
    server.drops[key] = [0.5, 0.99]
    resolved = resolve_source("tfhub:google/tiny/feature_vector/1", settings)
    assert server.hits[key] == 3 and (resolved.path / "saved_model.pb").is_file()


def test_corrupted_archive_is_refused_and_not_cached(server, settings, tiny_archive):
    key = server.add_tfhub(
        "google/tiny/feature_vector/1", tiny_archive[: len(tiny_archive) // 2] + b"\0" * 64
    )
    with pytest.raises(SourceError, match="corrupt"):
        resolve_source("tfhub:google/tiny/feature_vector/1", settings)
    assert entries(settings) == [] and Cache(settings.cache_root()).staging_leftovers() == []
    server.archives[key] = tiny_archive  # the publisher fixes it
    assert (resolve_source("tfhub:google/tiny/feature_vector/1", settings).path / "saved_model.pb").is_file()


def test_md5_stated_by_storage_is_checked(server, settings, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    server.bad_md5 = True
    with pytest.raises(SourceError, match="storage says md5"):
        resolve_source(MOBILENET_KAGGLE, settings)
    assert entries(settings) == []


def test_not_found_is_a_clear_error(server, settings):
    with pytest.raises(SourceError, match="HTTP 404") as err:
        resolve_source("tfhub:google/missing/feature_vector/1", settings)
    assert "spelling" in err.value.hint


def test_unreachable_server_is_reported_after_retries(settings):
    dead = replace(settings, hub_url="http://127.0.0.1:9", retries=2)  # port 9: discard, nothing listens
    with pytest.raises(SourceError, match="failed after 2 attempt"):
        resolve_source("tfhub:google/tiny/feature_vector/1", dead)


def test_hostile_archive_from_the_server_is_refused(server, settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    server.add_tfhub(
        "google/evil/feature_vector/1", tar_gz({"saved_model.pb": b"", "../../outside/x": b"boom"}, root="")
    )
    before = snapshot(tmp_path, exclude=settings.cache_root())
    with pytest.raises(UnsafeModelError, match="contains '..'"):
        resolve_source("tfhub:google/evil/feature_vector/1", settings)
    assert snapshot(tmp_path, exclude=settings.cache_root()) == before
    assert entries(settings) == [] and Cache(settings.cache_root()).staging_leftovers() == []


def test_dangerous_module_from_the_server_is_refused_and_not_locked(server, settings, writer_module):
    from sources_support import folder_files

    server.add_tfhub("google/writer/feature_vector/1", tar_gz(folder_files(writer_module)))
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        resolve_source("tfhub:google/writer/feature_vector/1", settings)
    assert not settings.lockfile.exists()
    allowed = resolve_source("tfhub:google/writer/feature_vector/1", replace(settings, allow_unsafe_ops=True))
    assert allowed.manifest["scan"]["override"] is True
    locked = json.loads(settings.lockfile.read_text())["sources"]["tfhub:google/writer/feature_vector/1"]
    assert locked["unsafe_ops_allowed"] == ["WriteFile"]


def test_archive_with_a_model_folder_inside(server, settings, tiny_module):
    from sources_support import folder_files

    files = {f"mobilenet/{k}": v for k, v in folder_files(tiny_module).items()}
    server.add_tfhub("google/nested/feature_vector/2", tar_gz(files))
    resolved = resolve_source("tfhub:google/nested/feature_vector/2", settings)
    assert folder_files(resolved.path) == folder_files(tiny_module)


# -- pinning, allowlist, offline -------------------------------------------------------------------


def test_unpinned_handle_is_refused_by_default(server, settings, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    with pytest.raises(RefusedError, match="has no version") as err:
        resolve_source("google/mobilenet-v2/tensorFlow2/100-224-feature-vector", settings)
    assert "--allow-unpinned" in err.value.hint
    assert server.log == []


def test_unpinned_handle_resolves_and_the_version_is_locked(server, settings, tiny_archive, tiny_archive_v2):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    spec = "google/mobilenet-v2/tensorFlow2/100-224-feature-vector"
    allowed = replace(settings, allow_unpinned=True)
    resolved = resolve_source(spec, allowed)
    assert resolved.canonical == KAGGLE_ID and resolved.manifest["version"] == 5
    lock = json.loads(settings.lockfile.read_text())
    assert lock["resolved"] == {"kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector": KAGGLE_ID}

    server.add_kaggle(
        "google/mobilenet-v2/tensorFlow2/100-224-feature-vector/6", tiny_archive_v2
    )  # a new release
    api_calls = len(
        server.requests_to("/api/v1/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/get")
    )
    again = resolve_source(spec, allowed)
    assert again.canonical == KAGGLE_ID  # the lockfile's version, not the newest
    assert (
        len(server.requests_to("/api/v1/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/get"))
        == api_calls
    )
    upgraded = resolve_source(spec, replace(allowed, upgrade=True))
    assert upgraded.canonical.endswith("/6")
    assert json.loads(settings.lockfile.read_text())["resolved"][
        "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector"
    ].endswith("/6")


def test_unpinned_tfhub_handle_outside_the_catalogue_cannot_be_resolved(settings):
    with pytest.raises(SourceError, match="no API"):
        resolve_source("https://tfhub.dev/google/tiny/feature_vector", replace(settings, allow_unpinned=True))


def test_publisher_allowlist(server, settings, tiny_archive):
    key = server.add_kaggle("acme/net/tensorFlow2/small/1", tiny_archive)
    with pytest.raises(SourceError, match="publisher 'acme' is not in the allowlist") as err:
        resolve_source("acme/net/tensorFlow2/small/1", settings)
    assert "--allow-publisher acme" in err.value.hint and server.hits[key] == 0
    resolved = resolve_source(
        "acme/net/tensorFlow2/small/1", replace(settings, allow_publishers=("google", "acme"))
    )
    assert resolved.canonical == "kaggle:acme/net/tensorflow2/small/1"


def test_offline_uses_the_cache_only(server, settings, tiny_archive, monkeypatch):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    monkeypatch.setenv("EDGEKIT_OFFLINE", "1")
    with pytest.raises(SourceError, match="offline: .* is not in the cache") as err:
        resolve_source(MOBILENET_KAGGLE, settings)
    assert "edgekit pull" in err.value.hint and server.log == []
    monkeypatch.delenv("EDGEKIT_OFFLINE")
    online = resolve_source(MOBILENET_KAGGLE, settings)
    offline = resolve_source(MOBILENET_TFHUB, replace(settings, offline=True))
    assert offline.path == online.path and server.hits[key] == 1


def test_offline_unpinned_uses_the_locked_version(server, settings, tiny_archive):
    server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    spec = "google/mobilenet-v2/tensorFlow2/100-224-feature-vector"
    resolve_source(spec, replace(settings, allow_unpinned=True))
    offline = replace(settings, allow_unpinned=True, offline=True)
    assert resolve_source(spec, offline).canonical == KAGGLE_ID
    with pytest.raises(SourceError, match="offline: cannot look up"):
        resolve_source(spec, replace(offline, lockfile=settings.lockfile.with_name("other.lock")))


# -- cache damage: per-file hashes are checked before each use -------------------------------------


@pytest.mark.parametrize("damage", ["delete", "modify", "add"])
def test_damaged_cache_is_detected_before_use(server, settings, tiny_archive, damage):
    key = server.add_kaggle(MOBILENET_KAGGLE, tiny_archive)
    first = resolve_source(MOBILENET_KAGGLE, settings)
    index = first.path / "variables" / "variables.index"
    if damage == "delete":
        index.unlink()
    elif damage == "modify":
        index.write_bytes(index.read_bytes()[:-1] + b"!")
    else:
        (first.path / "variables" / "planted.py").write_text("import os")
    with pytest.raises(IntegrityError, match="damaged"):
        resolve_source(MOBILENET_KAGGLE, replace(settings, offline=True))
    repaired = resolve_source(MOBILENET_KAGGLE, settings)
    assert any("damaged" in n for n in repaired.notes) and server.hits[key] == 2
    assert repaired.sha256 == first.sha256


def test_download_reports_progress_up_to_the_content_length(server, settings, tiny_archive, tmp_path):
    from edgekit.sources.download import download_file

    server.add_tfhub("google/tiny/feature_vector/1", tiny_archive)
    url = f"{server.url}/google/tiny/feature_vector/1?tf-hub-format=compressed"
    calls = []
    got = download_file(url, tmp_path / "a", progress=lambda done, total: calls.append((done, total)))
    assert (
        calls
        and calls[-1] == (got.size, len(tiny_archive))
        and all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    )


def test_progress_in_a_log_prints_quarter_steps(capsys):
    from edgekit.sources.progress import DownloadProgress

    progress = DownloadProgress("kaggle:google/x/1")
    progress.interactive = False
    for done in range(0, 1_000_001, 100_000):
        progress(done, 1_000_000)
    progress.close()
    lines = [line for line in capsys.readouterr().err.splitlines() if "downloading" in line]
    assert [line.split(": ")[1].split(" %")[0] for line in lines] == ["25", "50", "75", "100"]
