"""Signed bundles: `bundle --sign KEY`, `verify --key PUB`, and the artifact.json cross-check."""

import hashlib
import json
import sys

import pytest
from synthetic import write_run_dir

from edgekit.bundle.archive import read_bundle, tar_gz_bytes
from edgekit.bundle.build import write_bundle
from edgekit.bundle.manifest import sha256sums
from edgekit.bundle.verify import _artifact_problems, verify_bundle
from edgekit.cli import main
from edgekit.errors import BundleError, IntegrityError
from edgekit.fsutil import sha256_tree
from edgekit.signing.keys import generate_key, key_id, load_public_key

MODEL = "artifacts/tflite-int8/model.tflite"
META = "artifacts/tflite-int8/artifact.json"


@pytest.fixture
def run(tmp_path):
    return write_run_dir(tmp_path / "run")


@pytest.fixture
def keypair(tmp_path):
    return generate_key(tmp_path / "publisher.key")


@pytest.fixture
def ssh_keypair(tmp_path):
    """An OpenSSH-format ed25519 private key and its one-line .pub, as ssh-keygen writes them."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = tmp_path / "id_ed25519"
    private.write_bytes(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.OpenSSH, s.NoEncryption()))
    public = tmp_path / "id_ed25519.pub"
    public.write_bytes(
        key.public_key().public_bytes(s.Encoding.OpenSSH, s.PublicFormat.OpenSSH) + b" me@host\n"
    )
    return private, public


def _files(path):
    return {e.name: e.data for e in read_bundle(path)}


def _rewrite_consistently(files, new_model):
    """What a forger does: new model bytes, and artifact.json, manifest.json, SHA256SUMS to match."""
    files = dict(files)
    digest = hashlib.sha256(new_model).hexdigest()
    files[MODEL] = new_model
    meta = json.loads(files[META])
    meta["sha256"], meta["size_bytes"] = digest, len(new_model)
    files[META] = json.dumps(meta, indent=2).encode()
    return _reseal(files, {MODEL: digest})


def _reseal(files, artifact_hashes=None):
    """Recompute manifest.json's file list (and artifact hashes) and SHA256SUMS; keep everything else."""
    manifest = json.loads(files["manifest.json"])
    files = {n: d for n, d in files.items() if n not in ("manifest.json", "SHA256SUMS")}
    sig = files.pop("SHA256SUMS.sig", None)
    for art in manifest["artifacts"]:
        art["sha256"] = (artifact_hashes or {}).get(art["path"], art["sha256"])
    manifest["files"] = [
        {"path": p, "size_bytes": len(files[p]), "sha256": hashlib.sha256(files[p]).hexdigest()}
        for p in sorted(files)
    ]
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    files["SHA256SUMS"] = sha256sums(files)
    if sig is not None:
        files["SHA256SUMS.sig"] = sig
    return files


def _err(capsys):
    """stderr with the console's line wrapping undone."""
    return " ".join(capsys.readouterr().err.split())


def _write(path, files):
    path.write_bytes(tar_gz_bytes(files, 0))
    return path


def test_signed_bundle_verifies_with_its_key_and_stays_reproducible(run, keypair, tmp_path, capsys):
    private, public = keypair
    a = write_bundle(run, tmp_path / "a.tar.gz", sign_key=private)
    b = write_bundle(run, tmp_path / "b.tar.gz", sign_key=private)
    assert a.read_bytes() == b.read_bytes()  # ed25519 signatures are deterministic
    sig = json.loads(_files(a)["SHA256SUMS.sig"])
    assert sig["signed_file"] == "SHA256SUMS" and sig["algorithm"] == "ed25519"
    assert sig["signed_sha256"] == hashlib.sha256(_files(a)["SHA256SUMS"]).hexdigest()
    result = verify_bundle(a, [public])
    assert result.signed_by == key_id(load_public_key(public)) and result.files == 16
    assert main(["verify", str(a), "--key", str(public)]) == 0
    assert f"signed by {result.signed_by}" in capsys.readouterr().out.replace("\n", "")
    assert main(["verify", str(a)]) == 0  # checksums alone still verify; the signature is reported
    assert "signature not checked" in capsys.readouterr().out.replace("\n", "")


def test_openssh_keys_sign_and_verify(run, ssh_keypair, tmp_path):
    private, public = ssh_keypair
    out = tmp_path / "fw.zip"
    assert main(["bundle", str(run), "--out", str(out), "--sign", str(private)]) == 0
    assert verify_bundle(out, [public]).signed_by.startswith("SHA256:")


def test_verify_key_refuses_an_unsigned_bundle(run, keypair, tmp_path, capsys):
    plain = write_bundle(run, tmp_path / "plain.tar.gz")
    with pytest.raises(IntegrityError, match="is not signed: it has no SHA256SUMS.sig"):
        verify_bundle(plain, [keypair[1]])
    capsys.readouterr()
    assert main(["verify", str(plain), "--key", str(keypair[1])]) == 3
    assert "edgekit bundle ... --sign KEY" in _err(capsys)


def test_verify_key_refuses_another_key(run, keypair, tmp_path, capsys):
    signed = write_bundle(run, tmp_path / "s.tar.gz", sign_key=keypair[0])
    _, other = generate_key(tmp_path / "someone-else.key")
    with pytest.raises(IntegrityError, match="not among the trusted keys"):
        verify_bundle(signed, [other])
    assert main(["verify", str(signed), "--key", str(other)]) == 3
    assert main(["verify", str(signed), "--key", str(other), "--key", str(keypair[1])]) == 0


def test_a_consistently_rewritten_bundle_passes_checksums_but_not_the_signature(
    run, keypair, tmp_path, capsys
):
    signed = write_bundle(run, tmp_path / "s.tar.gz", sign_key=keypair[0])
    forged = _write(tmp_path / "forged.tar.gz", _rewrite_consistently(_files(signed), b"TFL3 not the model"))
    assert verify_bundle(forged).problems == []  # integrity holds: checksums prove nothing about origin
    with pytest.raises(IntegrityError, match="signature does not match SHA256SUMS"):
        verify_bundle(forged, [keypair[1]])
    capsys.readouterr()
    assert main(["verify", str(forged), "--key", str(keypair[1])]) == 3
    assert "changed after signing" in _err(capsys)
    # ...and re-signing it with the forger's own key does not help either
    mallory, _ = generate_key(tmp_path / "mallory.key")
    resigned = _write(tmp_path / "resigned.tar.gz", _files(forged))
    files = _files(resigned)
    from edgekit.bundle.signature import sign_sums, signing_key

    files["SHA256SUMS.sig"] = sign_sums(files["SHA256SUMS"], signing_key(mallory))
    with pytest.raises(IntegrityError, match="not among the trusted keys"):
        verify_bundle(_write(resigned, files), [keypair[1]])


def test_artifact_json_hash_is_cross_checked_without_a_key(run, tmp_path, capsys):
    good = write_bundle(run, tmp_path / "g.tar.gz")
    files = _files(good)
    meta = json.loads(files[META])
    meta["sha256"] = "0" * 64  # artifact.json no longer describes the model; every checksum resealed
    files[META] = json.dumps(meta).encode()
    bad = _write(tmp_path / "bad.tar.gz", _reseal(files))
    with pytest.raises(BundleError) as exc:
        verify_bundle(bad)
    assert f"{META} records sha256 0000000000000000… but {MODEL} hashes to" in exc.value.message
    assert exc.value.message.count("\n  - ") == 1, exc.value.message
    assert main(["verify", str(bad)]) == 1


def test_manifest_and_artifact_json_must_agree(run, tmp_path):
    good = write_bundle(run, tmp_path / "g.tar.gz")
    bad = _write(tmp_path / "bad.tar.gz", _reseal(_files(good), {MODEL: "f" * 64}))
    with pytest.raises(BundleError, match=f"manifest.json records sha256 ffffffffffffffff… for {MODEL}"):
        verify_bundle(bad)


def test_folder_artifacts_are_checked_against_the_folder_hash(tmp_path):
    """TF.js: artifact.json records fsutil.sha256_tree of model.json + shards."""
    folder = tmp_path / "tfjs-fp32"
    (folder / "sub").mkdir(parents=True)
    parts = {"model.json": b'{"format": "graph-model"}', "group1-shard1of1.bin": b"\1\2\3", "sub/x.bin": b"x"}
    for rel, data in parts.items():
        (folder / rel).write_bytes(data)
    meta = {"path": "model.json", "sha256": sha256_tree(folder)}
    files = {f"artifacts/tfjs-fp32/{r}": d for r, d in parts.items()}
    files["artifacts/tfjs-fp32/artifact.json"] = json.dumps(meta).encode()
    assert _artifact_problems(files, set(files)) == []
    files["artifacts/tfjs-fp32/group1-shard1of1.bin"] = b"\1\2\4"
    assert "records sha256" in _artifact_problems(files, set(files))[0]


def test_bad_keys_are_usage_errors(run, tmp_path, capsys):
    not_a_key = tmp_path / "key.txt"
    not_a_key.write_text("hello")
    out = tmp_path / "x.tar.gz"
    assert main(["bundle", str(run), "--out", str(out), "--sign", str(not_a_key)]) == 2
    assert not out.exists()  # refused before anything was written
    assert main(["bundle", str(run), "--out", str(out), "--sign", str(tmp_path / "missing.key")]) == 2
    write_bundle(run, out)
    assert main(["verify", str(out), "--key", str(not_a_key)]) == 2


def test_without_cryptography_sign_and_key_exit_2_naming_the_extra(
    run, keypair, tmp_path, monkeypatch, capsys
):
    out = write_bundle(run, tmp_path / "x.tar.gz")
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import cryptography → ModuleNotFoundError
    capsys.readouterr()
    assert main(["bundle", str(run), "--out", str(tmp_path / "y.tar.gz"), "--sign", str(keypair[0])]) == 2
    assert "edgekit-ml[release]" in _err(capsys)
    assert main(["verify", str(out), "--key", str(keypair[1])]) == 2
    assert "edgekit-ml[release]" in _err(capsys)
    assert main(["verify", str(out)]) == 0  # plain verify needs no extra
