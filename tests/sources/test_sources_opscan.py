"""The op scan: an allowlist of pure computation; everything else refused before loading, by name.

The registry tests enumerate every op TensorFlow registers, classify each from its OpDef
(edgekit.sources.opclasses) and check that every op that touches files, the network or outside
code is refused. The architectures test (marked slow) saves real keras.applications the way
`keras:` sources are saved and checks that none of them is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from sources_support import graph_saved_model, node

from edgekit.errors import UnsafeModelError
from edgekit.sources import SourceSettings, resolve_source
from edgekit.sources.kerasfile import keras_config_problems, keras_file_problems
from edgekit.sources.opallowlist_build import ARCHITECTURES
from edgekit.sources.opclasses import CLASSES, classify, registry_op_defs
from edgekit.sources.opscan import CHECKPOINT_OPS, check_saved_model, load_allowlist, scan_saved_model

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
    "PyFunc": (_called(node("py", "PyFunc", "x", token="pyfunc_0")), "PyFunc", "runs code"),
    "EagerPyFunc": (
        _called(node("py", "EagerPyFunc", "x", token="pyfunc_1")),
        "EagerPyFunc",
        "runs code that is not in the graph",
    ),
    "reader ops": (
        _called(node("rdr", "TFRecordReaderV2"), node("rd", "ReaderReadV2", "rdr", "x")),
        "TFRecordReaderV2",
        "reads or writes files",
    ),
    "WholeFileReaderV2": (
        _called(node("rdr", "WholeFileReaderV2")),
        "WholeFileReaderV2",
        "reads or writes files",
    ),
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
        "not an op TensorFlow 2.",
    ),
    "dataset reading files": (
        _called(node("ds", "TFRecordDataset", "x")),
        "TFRecordDataset",
        "reads or writes files",
    ),
    "dataset of file names (was missed by the old denylist)": (
        _called(node("ds", "MatchingFilesDataset", "x")),
        "MatchingFilesDataset",
        "reads or writes files",
    ),
    "dataset running a function": (
        _called(node("ds", "MapDataset", "x", func="__inference_read_9")),
        "MapDataset",
        "input pipeline op",
    ),
    "network": (_called(node("rpc", "RpcClient", "x")), "RpcClient", "talks to other processes"),
    "compiled module": (_called(node("m", "XlaCallModule", "x")), "XlaCallModule", "runs code"),
    "a registered op no architecture uses": (
        _called(node("u", "UnicodeScript", "x")),
        "UnicodeScript",
        "not on the allowlist",
    ),
    "print to stderr": (
        _called(node("p", "PrintV2", "x", output_stream="stderr")),
        "PrintV2",
        "reads or writes files",
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


def test_computation_ops_are_fine(tmp_path):
    graph = _called(
        node("m", "MatMul", "x", "x"),
        node("c", "Conv2D", "m", "x"),
        node("b", "FusedBatchNormV3", "c"),
        node("r", "Relu6", "b"),
        node("v", "ReadVariableOp", "x"),
    )
    assert scan_saved_model(graph_saved_model(tmp_path / "m", **graph)).ok


# -- the registry: every op that reaches outside the computation is refused --------------------

# The hand-written denylist the scan used before the allowlist; the classifier must cover it.
OLD_DENYLIST = (
    "ReadFile MatchingFiles ImmutableConst InitializeTableFromTextFile InitializeTableFromTextFileV2 "
    "LoadAndRemapMatrix GenerateVocabRemapping FileSystemSetConfiguration WriteFile CreateSummaryFileWriter "
    "CreateSummaryDbWriter WriteSummary WriteScalarSummary WriteHistogramSummary WriteImageSummary "
    "WriteAudioSummary WriteGraphSummary WriteRawProtoSummary ImportEvent SummaryWriter FlushSummaryWriter "
    "CloseSummaryWriter DatasetToTFRecord ExperimentalDatasetToTFRecord SaveDataset SaveDatasetV2 "
    "WholeFileReader WholeFileReaderV2 TextLineReader TextLineReaderV2 FixedLengthRecordReader "
    "FixedLengthRecordReaderV2 TFRecordReader TFRecordReaderV2 LMDBReader IdentityReader IdentityReaderV2 "
    "ReaderRead ReaderReadV2 ReaderReadUpTo ReaderReadUpToV2 ReaderRestoreState ReaderRestoreStateV2 "
    "ReaderSerializeState ReaderSerializeStateV2 ReaderReset ReaderResetV2 ReaderNumRecordsProduced "
    "ReaderNumRecordsProducedV2 ReaderNumWorkUnitsCompleted ReaderNumWorkUnitsCompletedV2 TFRecordDataset "
    "TFRecordDatasetV2 TextLineDataset FixedLengthRecordDataset FixedLengthRecordDatasetV2 LMDBDataset "
    "ExperimentalLMDBDataset CSVDataset CSVDatasetV2 ExperimentalCSVDataset SqlDataset ExperimentalSqlDataset "
    "LoadDataset SnapshotDataset SnapshotDatasetV2 SnapshotDatasetReader SnapshotNestedDatasetReader "
    "CacheDataset CacheDatasetV2 DataServiceDataset DataServiceDatasetV2 DataServiceDatasetV3 "
    "DataServiceDatasetV4 RegisterDataset RegisterDatasetV2 RpcServer RpcServerStart RpcServerRegister "
    "RpcClient RpcCall RpcCheckStatus RpcGetValue DeleteRpcFutureResource PyFunc PyFuncStateless EagerPyFunc "
    "DebugIdentity DebugIdentityV2 DebugIdentityV3 DebugNanCount DebugNumericSummary DebugNumericSummaryV2 "
    "PrintV2 DecodeProtoV2 EncodeProto"
).split()


@pytest.fixture(scope="module")
def registry():
    """TensorFlow's own registry, as a fresh `import tensorflow` has it (what the allowlist was made
    from): libraries that other tests load in this process (the TFLite converter's custom ops)
    register more."""
    code = "from edgekit.sources.opclasses import registry_op_defs; print(' '.join(o.name for o in registry_op_defs()))"
    fresh = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    return {o.name: o for o in registry_op_defs() if o.name in fresh}


@pytest.fixture(scope="module")
def dangerous(registry):
    return {name: cls for name, o in registry.items() if (cls := classify(o))}


def test_the_classifier_covers_the_old_denylist_and_known_cases(registry, dangerous):
    assert sorted(op for op in OLD_DENYLIST if op not in dangerous) == []
    assert sorted(CHECKPOINT_OPS - set(dangerous)) == []
    expected = {
        "ReadFile": "files",
        "WriteFile": "files",
        "MatchingFilesDataset": "files",
        "Skipgram": "files",  # reads its corpus from a file named by an attribute
        "MapDataset": "pipeline",
        "IteratorGetNext": "pipeline",
        "FIFOQueueV2": "pipeline",
        "EagerPyFunc": "code",
        "XlaCallModule": "code",
        "RemoteCall": "network",
        "CollectiveReduceV2": "network",
        "_Send": "network",
    }
    assert {op: dangerous.get(op) for op in expected} == expected
    for pure in (
        "Conv2D",
        "MatMul",
        "VarHandleOp",
        "ReadVariableOp",
        "StatefulPartitionedCall",
        "ShardedFilename",
    ):
        assert pure in registry and pure not in dangerous


def test_every_registry_op_that_touches_files_network_or_code_is_refused(registry, dangerous, tmp_path):
    allow = load_allowlist()
    assert len(registry) > 1500 and len(dangerous) > 400
    assert sorted(allow.allowed & set(dangerous)) == []
    # one graph holding every dangerous op of the registry, in a function the model calls
    body = [node(f"n{i}", op, "x") for i, op in enumerate(sorted(dangerous))]
    report = scan_saved_model(graph_saved_model(tmp_path / "all", **_called(*body)))
    assert report.ops() == sorted(dangerous)
    for finding in report.findings:
        if finding.op not in CHECKPOINT_OPS:
            assert finding.reason.startswith(CLASSES[dangerous[finding.op]]), finding
    with pytest.raises(UnsafeModelError):
        check_saved_model(tmp_path / "all", allow_unsafe_ops=False, what="all of them")


def test_the_allowlist_file_describes_this_tensorflow(registry, dangerous):
    """Regenerate with `python -m edgekit.sources.opallowlist_build` when this fails after an upgrade."""
    import tensorflow as tf

    allow = load_allowlist()
    assert allow.tensorflow == tf.__version__
    assert sorted(allow.allowed - set(registry)) == []
    assert sorted(set(registry) - allow.allowed - set(allow.refused)) == []
    assert {op: allow.refused[op] for op in dangerous} == dangerous
    for op in allow.allowed:
        assert not registry[op].is_stateful or not any(a.type == 7 for a in registry[op].input_arg), op


def test_the_allowlist_loads_without_tensorflow():
    code = (
        "import sys; from edgekit.sources.opscan import load_allowlist; a = load_allowlist(); "
        "assert 'Conv2D' in a.allowed and 'tensorflow' not in sys.modules, sorted(sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


def test_a_traced_dataset_over_file_names_is_refused(tmp_path):
    """tf.data inside a serving function: the input ops the old denylist let through."""
    import tensorflow as tf

    class ListsFiles(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def __call__(self, pattern):
            return tf.data.Dataset.list_files(pattern, shuffle=False).reduce(
                tf.constant(0, tf.int64), lambda n, _: n + 1
            )

    tf.saved_model.save(ListsFiles(), str(tmp_path / "m"))
    report = scan_saved_model(tmp_path / "m")
    refused = set(report.ops())
    assert {"MatchingFiles", "TensorSliceDataset", "ReduceDataset"} <= refused, refused
    # the pipeline ops that run the graph's functions were not on the old denylist
    assert {"TensorSliceDataset", "ReduceDataset"}.isdisjoint(OLD_DENYLIST)


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


# -- real models: the allowlist must not refuse them ------------------------------------------------


def test_a_small_cnn_saved_like_a_keras_source_passes(tmp_path):
    """Quick sample: the layers of mobile CNNs, saved by the same code as `keras:` sources."""
    import tf_keras

    from edgekit.sources.keras_apps import save_hub_module

    layers = tf_keras.layers
    inputs = tf_keras.Input((16, 16, 3))
    x = layers.Rescaling(2.0, offset=-1.0)(inputs)
    x = layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    y = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Add()([x, layers.Multiply()([y, layers.Activation("sigmoid")(y)])])
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    save_hub_module(tf_keras.Model(inputs, layers.Dense(2)(x)), tmp_path / "m", (16, 16))
    report = scan_saved_model(tmp_path / "m")
    assert report.ok, report.describe()
    assert report.nodes > 100


def test_a_keras3_export_passes(tmp_path):
    """Quick sample of the other way models arrive: a Keras 3 model saved with model.export()."""
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    keras.Model(inputs, keras.layers.Dense(2)(x)).export(str(tmp_path / "m"), verbose=False)
    report = scan_saved_model(tmp_path / "m")
    assert report.ok, report.describe()


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_keras3_exports_of_real_architectures_pass(name, tmp_path):
    import keras

    model = getattr(keras.applications, name)(
        weights=None, include_top=False, input_shape=(96, 96, 3), pooling="avg"
    )
    model.export(str(tmp_path / "m"), verbose=False)
    report = scan_saved_model(tmp_path / "m")
    assert report.ok, report.describe()


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_real_architectures_pass_the_scan(name, tmp_path):
    """Each keras.applications architecture (random weights) through the real `keras:` source path."""
    resolved = resolve_source(
        f"keras:{name}?size=96&weights=random", SourceSettings(cache_dir=tmp_path / "cache")
    )
    scan = resolved.manifest["scan"]
    assert scan["findings"] == [] and scan["override"] is False
    assert scan["nodes"] > 500


@pytest.mark.slow
def test_a_keras_file_of_a_real_architecture_passes(tmp_path):
    import tf_keras

    model = tf_keras.applications.MobileNetV3Small(
        weights=None, include_top=False, input_shape=(96, 96, 3), pooling="avg"
    )
    model.save(tmp_path / "m.keras")
    resolved = resolve_source(str(tmp_path / "m.keras"), SourceSettings(cache_dir=tmp_path / "cache"))
    assert resolved.manifest["scan"]["findings"] == []


def test_a_damaged_allowlist_is_an_error_not_a_traceback(tmp_path):
    from edgekit.errors import SourceError

    bad = tmp_path / "op_allowlist.json"
    bad.write_text('{"allowed": [')
    with pytest.raises(SourceError, match="missing or damaged"):
        load_allowlist(bad)
    with pytest.raises(SourceError, match="missing or damaged"):
        load_allowlist(tmp_path / "absent.json")
