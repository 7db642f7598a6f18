"""`--allow-unsafe-ops` where the op scan runs: `edgekit convert` (pull has its own tests)."""


def test_convert_allow_unsafe_ops_sets_the_recipe_field(monkeypatch, tiny_module):
    import types

    import edgekit.pipeline
    from edgekit.cli import main

    seen = []
    monkeypatch.setattr(
        edgekit.pipeline, "run_convert", lambda opts: seen.append(opts) or types.SimpleNamespace(exit_code=0)
    )
    assert main(["convert", "--allow-unsafe-ops", "--set", "train.epochs=1"]) == 0
    assert seen[0].overrides == ["train.epochs=1", "source.allow_unsafe_ops=true"]
    assert main(["convert"]) == 0 and seen[1].overrides == []
    # a model given directly has no recipe to record the override in: refused, not ignored
    assert main(["convert", str(tiny_module), "--allow-unsafe-ops"]) == 2
    assert len(seen) == 2


def test_pull_refuses_unsafe_ops_unless_allowed(writer_module, tmp_path, capsys, monkeypatch):
    from edgekit.cli import main

    monkeypatch.chdir(tmp_path)
    args = [
        "pull",
        str(writer_module),
        "--lock",
        str(tmp_path / "edgekit.lock"),
        "--cache",
        str(tmp_path / "c"),
    ]
    assert main(args) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "WriteFile (reads or writes files)" in err and "--allow-unsafe-ops" in err
    assert main([*args, "--allow-unsafe-ops"]) == 0
