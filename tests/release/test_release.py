"""`edgekit release`: signed releases, notes from the previous release, CHANGELOG, semver rules;
push, list and fetch against a real registry on 127.0.0.1; tampered and unsigned releases refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from synthetic import artifact_row, make_report, model_bytes, write_run_dir

from edgekit.cli import main
from edgekit.errors import IntegrityError

REFUSED = IntegrityError.exit_code  # a release that fails its checks is refused, not a crash

pytest.importorskip("cryptography", reason="the `release` extra is not installed")


def _run(
    root: Path, accuracy: float = 0.88, latency: float = 1.1, tf: str = "2.21.0", out_shape=None
) -> Path:
    rows = [
        artifact_row("tflite", "fp32", model_bytes("fp32"), 2.0, 0.90, seed=1),
        artifact_row("tflite", "int8", model_bytes("int8"), latency, accuracy, seed=2),
    ]
    if out_shape:
        for r in rows:
            r["artifact"]["outputs"][0]["shape"] = out_shape
    report = make_report(rows)
    report["host"]["packages"]["tensorflow"] = tf
    return write_run_dir(root, report)


@pytest.fixture()
def key(tmp_path):
    assert main(["release", "keygen", str(tmp_path / "team.key")]) == 0
    return tmp_path / "team.key", tmp_path / "team.key.pub"


def _release(tmp_path, run, version, key=None, extra=()):
    args = ["release", str(run), "--version", version, "--out", str(tmp_path / "releases"), *extra]
    return main(args + (["--sign", str(key)] if key else []))


def test_keygen_writes_a_private_key_only_its_owner_reads(key, tmp_path):
    priv, pub = key
    assert priv.stat().st_mode & 0o777 == 0o600 and pub.read_text().startswith("ssh-ed25519 ")
    assert main(["release", "keygen", str(priv)]) == 2  # never overwrites a key


def test_signed_release_verifies_and_a_changed_byte_is_refused(key, tmp_path, capsys):
    priv, pub = key
    assert _release(tmp_path, _run(tmp_path / "r1"), "1.0.0", priv) == 0
    folder = tmp_path / "releases" / "demo" / "1.0.0"
    assert sorted(p.name for p in folder.iterdir()) == [
        "RELEASE_NOTES.md",
        "demo-rpi4.bundle.tar.gz",
        "release.json",
        "signature.json",
    ]
    assert main(["release", "verify", str(folder), "--key", str(pub)]) == 0
    meta = json.loads((folder / "release.json").read_text())
    assert meta["version"] == "1.0.0" and set(meta["targets"]["rpi4"]["artifacts"]) == {
        "tflite-fp32",
        "tflite-int8",
    }
    bundle = folder / "demo-rpi4.bundle.tar.gz"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 1
    bundle.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["release", "verify", str(folder), "--key", str(pub)]) == REFUSED
    assert "demo-rpi4.bundle.tar.gz has sha256" in capsys.readouterr().err


def test_unsigned_release_is_refused_unless_allowed(tmp_path, capsys):
    assert _release(tmp_path, _run(tmp_path / "r1"), "1.0.0") == 0
    folder = tmp_path / "releases" / "demo" / "1.0.0"
    assert not (folder / "signature.json").exists()
    assert main(["release", "verify", str(folder)]) == 2  # no trusted key given
    assert main(["release", "verify", str(folder), "--allow-unsigned"]) == 0
    other = tmp_path / "other.key"
    assert main(["release", "keygen", str(other)]) == 0
    capsys.readouterr()
    assert main(["release", "verify", str(folder), "--key", f"{other}.pub"]) == REFUSED
    assert "is not signed" in capsys.readouterr().err


def test_second_release_notes_and_changelog_show_the_changes(key, tmp_path):
    priv, _ = key
    runs = [_run(tmp_path / "r1"), _run(tmp_path / "r2", accuracy=0.91, latency=0.8, tf="2.22.0")]
    for i, run in enumerate(
        runs
    ):  # a reference SavedModel (its bytes only matter here) goes into the release
        (run / "reference/saved_model").mkdir(parents=True)
        (run / "reference/saved_model/saved_model.pb").write_bytes(b"weights %d" % i)
    assert _release(tmp_path, runs[0], "1.0.0", priv) == 0
    assert _release(tmp_path, runs[1], "1.0.1", priv) == 0
    notes = (tmp_path / "releases/demo/1.0.1/RELEASE_NOTES.md").read_text()
    assert (
        "Previous release: 1.0.0" in notes
        and "## Changes" in notes
        and "Includes the reference SavedModel" in notes
    )
    assert (tmp_path / "releases/demo/1.0.1/reference.tar.gz").is_file()
    assert "| tflite-int8 parity-set accuracy | 0.880 | 0.910 | +0.030 |" in notes
    assert "| tensorflow | 2.21.0 | 2.22.0 | changed |" in notes
    int8_p50 = next(line for line in notes.splitlines() if line.startswith("| tflite-int8 host p50"))
    assert int8_p50.endswith(" ms |") and "| -0." in int8_p50  # faster than 1.0.0
    size = next(line for line in notes.splitlines() if line.startswith("| tflite-int8 size"))
    assert size.endswith(" B |  |") and "same model bytes" in notes  # same bytes: no change shown
    log = (tmp_path / "releases/demo/CHANGELOG.md").read_text()
    assert log.index("## [1.0.1]") < log.index("## [1.0.0]") and "Keep a Changelog" in log
    meta = json.loads((tmp_path / "releases/demo/1.0.1/release.json").read_text())
    assert meta["previous"] == "1.0.0" and meta["semver_bump_needed"] == "patch"


def test_semver_rules(key, tmp_path, capsys):
    priv, _ = key
    assert _release(tmp_path, _run(tmp_path / "r1"), "1.0.0", priv) == 0
    changed = _run(tmp_path / "r2", out_shape=[1, 5])
    for version, why in [
        ("1.1.0", "need a major version"),
        ("1.0.0", "already exists"),
        ("0.9.0", "older than the existing release 1.0.0"),
        ("1.1", "not MAJOR.MINOR.PATCH"),
    ]:
        capsys.readouterr()
        assert _release(tmp_path, changed, version, priv) == 2, version
        err = capsys.readouterr().err
        assert why in err, (version, err)
    assert sorted(p.name for p in (tmp_path / "releases/demo").iterdir()) == [
        "1.0.0",
        "CHANGELOG.md",
    ]  # nothing written
    capsys.readouterr()
    assert _release(tmp_path, changed, "1.1.0", priv) == 2
    assert "output spec changed from probs float32[1, 4]" in capsys.readouterr().err
    assert _release(tmp_path, changed, "2.0.0", priv) == 0
    notes = (tmp_path / "releases/demo/2.0.0/RELEASE_NOTES.md").read_text()
    assert "**breaking**" in notes and "major" in notes


def test_openssh_ed25519_key_signs_and_rsa_is_refused(tmp_path, capsys):
    if not shutil.which("ssh-keygen"):
        pytest.skip("ssh-keygen is not installed")
    for kind in ("ed25519", "rsa"):
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(tmp_path / kind)], check=True)
    run = _run(tmp_path / "r1")
    capsys.readouterr()
    assert _release(tmp_path, run, "1.0.0", tmp_path / "rsa") == 2
    assert "releases are signed with ed25519" in capsys.readouterr().err
    assert _release(tmp_path, run, "1.0.0", tmp_path / "ed25519") == 0
    folder = tmp_path / "releases/demo/1.0.0"
    assert main(["release", "verify", str(folder), "--key", str(tmp_path / "ed25519.pub")]) == 0


# --- a real registry -------------------------------------------------------------------------


def test_push_list_fetch_against_the_local_registry(key, tmp_path, registry, capsys):
    priv, pub = key
    assert _release(tmp_path, _run(tmp_path / "r1"), "1.0.0", priv) == 0
    assert _release(tmp_path, _run(tmp_path / "r2", accuracy=0.91), "1.1.0", priv) == 0
    repo = f"oci://{registry}/team/demo"
    for v in ("1.0.0", "1.1.0"):
        assert main(["release", "push", str(tmp_path / "releases/demo" / v), repo]) == 0
    capsys.readouterr()
    assert main(["release", "list", repo, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["tag"] for r in rows] == ["1.1.0", "1.0.0"]
    top = rows[0]
    assert top["org.opencontainers.image.version"] == "1.1.0" and top["dev.edgekit.release.targets"] == "rpi4"
    assert top["dev.edgekit.release.quant-modes"] == "fp32,int8" and top[
        "dev.edgekit.release.signer"
    ].startswith("SHA256:")
    assert "rpi4/tflite-int8=sha256:" in top["dev.edgekit.release.artifacts"]
    out = tmp_path / "fetched"
    assert main(["fetch", f"{repo}:1.1.0", "--key", str(pub), "--out", str(out)]) == 0
    original = tmp_path / "releases/demo/1.1.0"
    assert {p.name: p.read_bytes() for p in (out / "demo/1.1.0").iterdir()} == {
        p.name: p.read_bytes() for p in original.iterdir()
    }
    assert main(["fetch", f"{repo}:1.1.0", "--key", str(pub), "--out", str(out)]) == 2  # already there
    assert main(["fetch", f"{repo}:9.9.9", "--key", str(pub), "--out", str(tmp_path / "none")]) == 1
    assert main(["fetch", f"{repo}", "--key", str(pub)]) == 2  # no version
    assert not (tmp_path / "none").exists()


def _push_raw(files: dict[str, bytes], registry: str, tag: str) -> None:
    """Publish FILES as they are (no checks): how a tampered or unsigned release reaches a registry."""
    from edgekit.release.oci import parse_ref, push
    from edgekit.release.store import Release

    meta = json.loads(files["release.json"])
    meta["version"] = tag
    push(Release(meta, files, None), parse_ref(f"oci://{registry}/team/evil:{tag}", need_tag=True))


@pytest.mark.parametrize("case", ["bundle byte", "release.json edited", "unsigned", "wrong key"])
def test_tampered_or_unsigned_release_is_refused_and_nothing_written(case, key, tmp_path, registry, capsys):
    priv, pub = key
    assert _release(tmp_path, _run(tmp_path / "r1"), "1.0.0", priv) == 0
    files = {p.name: p.read_bytes() for p in (tmp_path / "releases/demo/1.0.0").iterdir()}
    trusted = pub
    if case == "bundle byte":
        data = bytearray(files["demo-rpi4.bundle.tar.gz"])
        data[100] ^= 1
        files["demo-rpi4.bundle.tar.gz"] = bytes(data)
        expected = "has sha256"
    elif case == "release.json edited":
        files["release.json"] = files["release.json"].replace(b'"previous": null', b'"previous": "0.0.1"')
        expected = "the signature does not match"
    elif case == "unsigned":
        del files["signature.json"]
        expected = "is not signed"
    else:
        assert main(["release", "keygen", str(tmp_path / "other.key")]) == 0
        trusted = tmp_path / "other.key.pub"
        expected = "not among the trusted keys"
    _push_raw(files, registry, "1.0.0")
    capsys.readouterr()
    out = tmp_path / "fetched"
    assert (
        main(["fetch", f"oci://{registry}/team/evil:1.0.0", "--key", str(trusted), "--out", str(out)])
        == REFUSED
    )
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_bad_references_and_unreachable_registries_are_user_errors(key, tmp_path, capsys):
    _, pub = key
    assert main(["fetch", "https://example.com/x:1.0.0", "--key", str(pub)]) == 2
    assert main(["release", "list", "oci://127.0.0.1:1/team/demo"]) == 1
    assert "cannot reach the registry" in capsys.readouterr().err
