"""The op scan: dangerous graphs are refused before loading, normal modules pass."""

from __future__ import annotations

import json
import zipfile

import pytest
from sources_support import graph_saved_model, node

from edgekit.errors import UnsafeModelError
from edgekit.sources import SourceSettings, resolve_source
from edgekit.sources.kerasfile import keras_config_problems, keras_file_problems
from edgekit.sources.opscan import CHECKPOINT_OPS, DANGEROUS, check_saved_model, scan_saved_model

SERVE = "__inference_serve_7"


def _called(*body, args=("x",)):
    """A main graph that calls SERVE (as a signature would), SERVE holding BODY."""
    main = [node("x", "Placeholder"), node("call", "StatefulPartitionedCall", "x", func=SERVE)]
    return {"main": main, "functions": {SERVE: (list(args), list(body))}, "concrete": [SERVE]}


def _tf2_saver(restore_body=None, save_body=None):
    """main-graph saver nodes wired like tf.saved_model.save writes them."""
    main = [
        node("saver_filename", "Placeholder"),
        node("save_call", "StatefulPartitionedCall", "saver_filename", func="__inference__traced_save_1"),
        node(
            "restore_call", "StatefulPartitionedCall", "saver_filename", func="__inference__traced_restore_2"
        ),
    ]
    save = save_body or [
        node("suffix", "Const", const="_temp/part"),
        node("tmp", "StringJoin", "file_prefix", "suffix:output:0"),
        node("shard", "ShardedFilename", "tmp:output:0"),
        node("save", "SaveV2", "shard:filename:0"),
        node("merge", "MergeV2Checkpoints", "save", "file_prefix"),
    ]
    restore = restore_body or [node("restore", "RestoreV2", "file_prefix")]
    functions = {
        "__inference__traced_save_1": (["file_prefix"], save),
        "__inference__traced_restore_2": (["file_prefix"], restore),
    }
    return main, functions, ("saver_filename:0", "save_call:0", "restore_call")


DANGEROUS_GRAPHS = {
    "ReadFile in the main graph": (
        {"main": [node("path", "Const", const="/etc/passwd"), node("read", "ReadFile", "path")]},
        "ReadFile",
        "graph node 'read'",
    ),
    "WriteFile in a called function": (
        _called(node("write", "WriteFile", "x", "x")),
        "WriteFile",
        f"function '{SERVE}' node 'write'",
    ),
    "MatchingFiles": (_called(node("glob", "MatchingFiles", "x")), "MatchingFiles", "node 'glob'"),
    "PyFunc": (_called(node("py", "PyFunc", "x", token="pyfunc_0")), "PyFunc", "runs Python code"),
    "EagerPyFunc": (
        _called(node("py", "EagerPyFunc", "x", token="pyfunc_1")),
        "EagerPyFunc",
        "runs Python code",
    ),
    "reader ops": (
        _called(node("rdr", "TFRecordReaderV2"), node("rd", "ReaderReadV2", "rdr", "x")),
        "TFRecordReaderV2",
        "file reader",
    ),
    "WholeFileReaderV2": (_called(node("rdr", "WholeFileReaderV2")), "WholeFileReaderV2", "file reader"),
    "PrintV2 to a file": (
        _called(node("p", "PrintV2", "x", output_stream="file:///tmp/leak.txt")),
        "PrintV2",
        "/tmp/leak.txt",
    ),
    "SaveV2 outside the saver": (
        _called(node("save", "SaveV2", "x")),
        "SaveV2",
        "outside the variables checkpoint",
    ),
    "unknown op": (
        _called(node("k", "TotallyMadeUpKernel", "x")),
        "TotallyMadeUpKernel",
        "not an op TensorFlow knows",
    ),
    "dataset reading files": (
        _called(node("ds", "TFRecordDataset", "x")),
        "TFRecordDataset",
        "dataset that reads or writes files",
    ),
}


@pytest.mark.parametrize("case", list(DANGEROUS_GRAPHS))
def test_dangerous_graphs_are_refused_naming_op_and_place(case, tmp_path):
    graph, op, where = DANGEROUS_GRAPHS[case]
    folder = graph_saved_model(tmp_path / "m", **graph)
    with pytest.raises(UnsafeModelError) as err:
        check_saved_model(folder, allow_unsafe_ops=False, what="test module")
    assert op in str(err.value) and where in str(err.value), str(err.value)
    assert "--allow-unsafe-ops" in err.value.hint


def test_the_saver_may_use_checkpoint_ops(tmp_path):
    main, functions, saver = _tf2_saver()
    report = scan_saved_model(graph_saved_model(tmp_path / "m", main=main, functions=functions, saver=saver))
    assert report.ok, report.describe()
    assert report.functions == 2 and report.nodes == 3 + 6


def test_saver_reading_a_constant_path_is_refused(tmp_path):
    main, functions, saver = _tf2_saver(
        restore_body=[
            node("p", "Const", const="/home/user/.ssh/id_rsa"),
            node("restore", "RestoreV2", "p:output:0"),
        ]
    )
    report = scan_saved_model(graph_saved_model(tmp_path / "m", main=main, functions=functions, saver=saver))
    assert report.ops() == ["RestoreV2"]
    assert "id_rsa" in report.describe()


def test_saver_escaping_with_dot_dot_is_refused(tmp_path):
    main, functions, saver = _tf2_saver(
        save_body=[
            node("up", "Const", const="/../../../tmp/owned"),
            node("p", "StringJoin", "file_prefix", "up:output:0"),
            node("save", "SaveV2", "p:output:0"),
        ]
    )
    report = scan_saved_model(graph_saved_model(tmp_path / "m", main=main, functions=functions, saver=saver))
    assert report.ops() == ["SaveV2"] and "'/../../../tmp/owned'" in report.describe()


def test_a_saver_function_the_model_also_calls_is_not_the_saver(tmp_path):
    main, functions, saver = _tf2_saver()
    main.append(node("call", "StatefulPartitionedCall", func="__inference__traced_restore_2"))
    report = scan_saved_model(graph_saved_model(tmp_path / "m", main=main, functions=functions, saver=saver))
    assert report.ops() == ["RestoreV2"]


def test_tf1_style_saver_in_the_main_graph(tmp_path):
    main = [
        node("save/Const", "Const", const="model"),
        node("save/SaveV2", "SaveV2", "save/Const"),
        node("save/control_dependency", "Identity", "save/Const", "^save/SaveV2"),
        node("save/RestoreV2", "RestoreV2", "save/Const"),
        node("save/restore_all", "NoOp", "^save/RestoreV2"),
    ]
    saver = ("save/Const:0", "save/control_dependency:0", "save/restore_all")
    assert scan_saved_model(graph_saved_model(tmp_path / "ok", main=main, saver=saver)).ok
    main[1] = node("save/SaveV2", "SaveV2", "elsewhere")
    main.append(node("elsewhere", "Const", const="/tmp/elsewhere"))
    report = scan_saved_model(graph_saved_model(tmp_path / "bad", main=main, saver=saver))
    assert report.ops() == ["SaveV2"]


def test_print_to_stderr_and_known_ops_are_fine(tmp_path):
    graph = _called(node("p", "PrintV2", "x", output_stream="stderr"), node("m", "MatMul", "x", "x"))
    assert scan_saved_model(graph_saved_model(tmp_path / "m", **graph)).ok


def test_dangerous_op_table_names_real_tensorflow_ops():
    from tensorflow.python.framework import op_def_registry

    unknown = sorted(
        op for op in set(DANGEROUS) | CHECKPOINT_OPS | {"PrintV2"} if op_def_registry.get(op) is None
    )
    assert unknown == []


def test_a_traced_module_that_writes_files_is_refused(writer_module):
    with pytest.raises(UnsafeModelError) as err:
        resolve_source(str(writer_module), SourceSettings())
    assert "WriteFile" in str(err.value) and "function '__inference___call__" in str(err.value)


def test_override_accepts_and_records(writer_module):
    resolved = resolve_source(str(writer_module), SourceSettings(allow_unsafe_ops=True))
    assert resolved.manifest["scan"]["override"] is True
    assert [f["op"] for f in resolved.manifest["scan"]["findings"]] == ["WriteFile"]
    assert any("UNSAFE OPS ALLOWED" in n and "WriteFile" in n for n in resolved.notes)


def test_a_normal_tf2_module_passes(tiny_module):
    resolved = resolve_source(str(tiny_module), SourceSettings())
    scan = resolved.manifest["scan"]
    assert scan["findings"] == [] and scan["override"] is False
    assert scan["functions"] == 4 and scan["nodes"] > 20  # the saver's SaveV2/RestoreV2 were seen and allowed
    assert (
        resolved.info.input_size == (8, 8)
        and resolved.info.output_dim == 2
        and resolved.info.origin == "signature"
    )


# -- Keras: Lambda layers and unsafe deserialization -----------------------------------------------


def _tf_keras_model(with_lambda: bool):
    import tf_keras

    inputs = tf_keras.Input((8, 8, 3))
    x = tf_keras.layers.GlobalAveragePooling2D()(inputs)
    if with_lambda:
        x = tf_keras.layers.Lambda(lambda t: t * 2.0)(x)
    return tf_keras.Model(inputs, tf_keras.layers.Dense(2)(x))


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keras")
    _tf_keras_model(True).save(folder / "lambda.keras")
    _tf_keras_model(False).save(folder / "plain.keras")
    _tf_keras_model(True).save(folder / "lambda_savedmodel", save_format="tf")
    _tf_keras_model(False).save(folder / "plain_savedmodel", save_format="tf")
    return folder


def test_keras_file_with_a_lambda_is_refused(keras_models):
    with pytest.raises(UnsafeModelError, match="Lambda layer"):
        resolve_source(str(keras_models / "lambda.keras"), SourceSettings())
    # never overridable: loading it would execute the stored bytecode
    with pytest.raises(UnsafeModelError, match="Lambda layer"):
        resolve_source(str(keras_models / "lambda.keras"), SourceSettings(allow_unsafe_ops=True))


def test_keras_savedmodel_with_a_lambda_is_refused(keras_models):
    assert (keras_models / "lambda_savedmodel" / "keras_metadata.pb").is_file()
    with pytest.raises(UnsafeModelError, match="keras_metadata.pb") as err:
        resolve_source(str(keras_models / "lambda_savedmodel"), SourceSettings())
    assert "Lambda layer" in str(err.value)


def test_plain_keras_savedmodel_passes(keras_models):
    resolved = resolve_source(str(keras_models / "plain_savedmodel"), SourceSettings())
    assert resolved.kind == "local" and resolved.info.input_size == (8, 8)


def test_plain_keras_file_becomes_a_cached_savedmodel(keras_models, tmp_path):
    settings = SourceSettings(cache_dir=tmp_path / "cache")
    resolved = resolve_source(str(keras_models / "plain.keras"), settings)
    assert (resolved.path / "saved_model.pb").is_file()
    assert resolved.canonical.startswith("keras-file:sha256:")
    assert resolved.info.input_size == (8, 8) and resolved.info.output_dim == 2
    again = resolve_source(str(keras_models / "plain.keras"), settings)
    assert again.path == resolved.path and again.sha256 == resolved.sha256


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (
            {
                "module": "keras.layers",
                "class_name": "Lambda",
                "config": {"name": "l", "function": {"class_name": "__lambda__"}},
            },
            "Lambda layer 'l'",
        ),
        ({"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}, "serialized Python lambda"),
        ({"module": "os", "class_name": "system", "config": {}}, "from module 'os'"),
        ({"module": "builtins", "class_name": "eval", "config": {}}, "from module 'builtins'"),
        (
            {"module": "my_pkg.layers", "class_name": "Fancy", "registered_name": "my_pkg>Fancy"},
            "custom object 'my_pkg>Fancy'",
        ),
        (
            {
                "module": "keras",
                "class_name": "Functional",
                "config": {"layers": [{"module": "evil", "class_name": "X"}]},
            },
            "from module 'evil'",
        ),
    ],
)
def test_keras_configs_that_need_unsafe_deserialization(config, words):
    problems = keras_config_problems(config)
    assert any(words in p for p in problems), problems


def test_keras_builtin_configs_are_safe():
    config = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "registered_name": None,
        "config": {
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "registered_name": None,
                    "config": {
                        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform"}
                    },
                },
                {
                    "module": "keras.layers",
                    "class_name": "TFOpLambda",
                    "config": {"function": "math.multiply"},
                },
            ]
        },
    }
    assert keras_config_problems(config) == []


def test_keras3_file_with_custom_module_is_refused_without_loading(tmp_path):
    path = tmp_path / "evil.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "config.json",
            json.dumps(
                {"module": "subprocess", "class_name": "Popen", "config": {"args": "touch /tmp/pwned"}}
            ),
        )
        zf.writestr("metadata.json", "{}")
    assert keras_file_problems(path) == [
        "class 'Popen' from module 'subprocess' (loading would import code outside Keras)"
    ]
    with pytest.raises(UnsafeModelError, match="subprocess"):
        resolve_source(str(path), SourceSettings(cache_dir=tmp_path / "cache"))


def test_demo_specs_are_dispatched_to_the_demo_module_and_scanned(monkeypatch, tiny_module, writer_module):
    import edgekit.sources.demo as demo
    from edgekit.sources.base import ModuleInfo, ResolvedSource

    calls = []

    def fake_resolve_demo(spec, settings, path=tiny_module):
        calls.append(spec)
        return ResolvedSource(spec, "demo:fake/1", "demo", path, "0" * 64, ModuleInfo((8, 8)))

    monkeypatch.setattr(demo, "resolve_demo", fake_resolve_demo)
    resolved = resolve_source(" demo:fake ", SourceSettings())
    assert calls == ["demo:fake"] and resolved.manifest["scan"]["findings"] == []
    monkeypatch.setattr(
        demo, "resolve_demo", lambda spec, settings: fake_resolve_demo(spec, settings, writer_module)
    )
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        resolve_source("demo:fake", SourceSettings())
