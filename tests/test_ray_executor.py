"""`convert --executor ray`: the matrix cells as tasks on a real Ray cluster on 127.0.0.1.

The cluster test starts a head and a second node that advertises the resource `device:rpi4` (as a
Raspberry Pi joining the cluster would), runs the same narrowed demo for host and rpi4 with the
local and the Ray executor, and compares the rows. It is marked `cluster` (run with -m cluster):
starting two Ray nodes and two runs take about two minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest
from demo_settings import TFLITE_FP32_INT8, tiny_demo

from edgekit.cli import main

TINY = [*tiny_demo(), *TFLITE_FP32_INT8]
TARGETS = "host,rpi4"
DEVICE_RESOURCE = '{"device:rpi4": 1}'
STARTUP_S = 240  # two Ray nodes on a loaded 2-core machine take up to a minute each
START_ATTEMPTS = 3
# No usage reports, and no token authentication: Ray turns it on by itself when it finds a token
# in ~/.ray/auth_token (which any earlier local `ray.init()` on the machine leaves behind).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- without a cluster: the errors a user meets first ----------------------------------------------


def test_without_ray_installed_the_executor_names_the_extra(tmp_path, monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real_find_spec(name, *a)
    )
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    monkeypatch.chdir(tmp_path)
    rc = main(["convert", "--target", "host", "--executor", "ray", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "edgekit-ml[ray]" in err and "pip install" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # stopped before any step


def test_an_unreachable_ray_address_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("ray")
    port = _free_port()  # nothing listens there
    rc = main(
        ["convert", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert rc == 1, err
    assert f"no Ray head answers at 127.0.0.1:{port}" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--executor", "dask"], "--executor must be one of local, ray, got 'dask'"),
        (["--ray-address", "127.0.0.1:6379"], "--ray-address 127.0.0.1:6379 is for the Ray executor"),
        (["--executor", "ray", "--ray-address", "head-without-port"], "--ray-address must be HOST:PORT"),
    ],
)
def test_bad_executor_options_are_usage_errors(argv, expected, tmp_path, capsys):
    if "ray" in argv:
        pytest.importorskip("ray")
    rc = main(["convert", *argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and expected in err, err


def test_a_folder_travels_as_bytes_and_comes_back_the_same(tmp_path):
    from edgekit.executors.payload import pack, pack_folder, unpack

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.bin").write_bytes(bytes(range(256)) * 10)
    (src / "sub" / "b.txt").write_text("b")
    back = unpack(pack_folder(src), tmp_path / "back")
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*")) == ["a.bin", "sub", "sub/b.txt"]
    assert (back / "a.bin").read_bytes() == (src / "a.bin").read_bytes()
    evil = tmp_path / "evil"
    evil.write_text("x")
    import tarfile

    with pytest.raises(tarfile.OutsideDestinationError):
        unpack(pack({"../escaped": evil}), tmp_path / "dest")
    assert not (tmp_path / "escaped").exists()


# --- the executor's own logic, with Ray's calls run in this process --------------------------------


class _Ref:
    def __init__(self, value=None, error: Exception | None = None) -> None:
        self.value, self.error = value, error


class _Remote:
    def __init__(self, fake: FakeRay, fn, options: dict) -> None:
        self.fake, self.fn, self.opts = fake, fn, options

    def options(self, **options) -> _Remote:
        return _Remote(self.fake, self.fn, {**self.opts, **options})

    def remote(self, *args) -> _Ref:
        self.fake.submitted.append((self.fn.__name__, self.opts))
        if self.fake.fail:
            return _Ref(error=RuntimeError("the worker died"))
        return _Ref(self.fn(*[a.value if isinstance(a, _Ref) else a for a in args]))


class FakeRay:
    """The part of Ray's API RayExecutor calls, each task run at once in this process. The real
    cluster test below runs the same code on Ray; this one checks the executor's decisions fast."""

    def __init__(self, resources: dict, fail: bool = False) -> None:
        self.resources, self.fail, self.submitted = resources, fail, []

    def remote(self, fn=None, **options):
        return _Remote(self, fn, {}) if fn is not None else (lambda f: _Remote(self, f, options))

    def put(self, value) -> _Ref:
        return _Ref(value)

    def get(self, ref: _Ref, timeout: float | None = None):
        if ref.error is not None:
            raise ref.error
        return ref.value

    def wait(self, refs: list, num_returns: int = 1):
        return refs[:num_returns], refs[num_returns:]

    def cluster_resources(self) -> dict:
        return self.resources

    def cancel(self, ref, force: bool = False) -> None:
        pass

    def shutdown(self) -> None:
        pass


@pytest.fixture
def on_a_pi(monkeypatch):
    from edgekit import __version__
    from edgekit.executors import ray_tasks

    node = {"edgekit": __version__, "id": "0f" * 28, "hostname": "pi4-lab", "ip": "10.0.0.17"}
    monkeypatch.setattr(ray_tasks, "node_info", lambda: dict(node))
    return node


def test_a_conversion_comes_back_as_the_local_one(tiny_reference, tiny_calibration, tmp_path, on_a_pi):
    from edgekit.convert.runner import ConvertJob
    from edgekit.executors.local import LocalExecutor
    from edgekit.executors.ray import RayExecutor

    def job(root):
        return ConvertJob(
            "tflite", "int8", tiny_reference, root / "tflite-int8", {}, tiny_calibration, {"k": 1}
        )

    local, remote = [], []
    LocalExecutor().convert([job(tmp_path / "local")], False, local.append)
    fake = FakeRay({"CPU": 2.0})
    RayExecutor(fake).convert([job(tmp_path / "ray")], True, remote.append)
    assert fake.submitted == [("convert_cell", {"max_calls": 1, "max_retries": 0})]
    (a,), (b,) = local, remote
    assert b.error is None and b.artifact.folder == tmp_path / "ray" / "tflite-int8"
    assert b.artifact.sha256 == a.artifact.sha256 and b.artifact.to_dict() == a.artifact.to_dict()
    assert sorted(p.name for p in b.artifact.folder.iterdir()) == sorted(
        p.name for p in a.artifact.folder.iterdir()
    )
    assert not list((tmp_path / "ray").glob(".*.tmp"))

    failed = []
    RayExecutor(FakeRay({}, fail=True)).convert([job(tmp_path / "lost")], True, failed.append)
    assert (
        failed[0].artifact is None and failed[0].error == "the Ray task failed: RuntimeError: the worker died"
    )
    assert not (tmp_path / "lost").exists()


def test_device_cells_are_pinned_and_results_name_the_node_and_this_run_folder(
    tiny_reference, tiny_calibration, tmp_path, on_a_pi
):
    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.convert.runner import ConvertJob, run_job
    from edgekit.executors import BenchCell
    from edgekit.executors.ray import RayExecutor

    artifact = run_job(
        ConvertJob("tflite", "fp32", tiny_reference, tmp_path / "artifacts" / "tflite-fp32", {})
    )
    cell = BenchCell(BenchTarget("artifact-dir", artifact.folder, "tflite", tiny_reference), None)
    quick = Protocol(threads=1, warmup_runs=1, min_runs=5, min_time_s=0.05)

    fake = FakeRay({"CPU": 1.0, "device:rpi4": 1.0})
    (result,) = RayExecutor(fake).bench("rpi4", [cell], quick)
    assert fake.submitted == [
        ("bench_cell", {"max_retries": 0, "num_cpus": 0, "resources": {"device:rpi4": 1}})
    ]
    assert result["status"] == "ok", result.get("error")
    assert result["node"] == {k: v for k, v in on_a_pi.items() if k != "edgekit"} | {
        "resource": "device:rpi4"
    }
    assert result["artifact"]["path"] == str(artifact.path.resolve())

    # no node has the device: any node with a CPU; a task whose worker died is a failed result
    fake = FakeRay({"CPU": 1.0}, fail=True)
    (result,) = RayExecutor(fake).bench("rpi5", [cell], quick)
    assert fake.submitted == [("bench_cell", {"max_retries": 0, "num_cpus": 1})]
    assert result["status"] == "failed" and "the Ray task failed" in result["error"]


def test_a_node_with_another_edgekit_version_fails_its_cell(tiny_reference, tmp_path, monkeypatch, on_a_pi):
    from edgekit.convert.runner import ConvertJob
    from edgekit.executors import ray_tasks
    from edgekit.executors.ray import RayExecutor

    on_a_pi["edgekit"] = "0.1.0"
    # the node's answer, whatever it converted: the version is checked before anything is written
    monkeypatch.setattr(
        ray_tasks,
        "convert_cell",
        lambda *args: {"folder": b"not a tar", "error": None, "trace": None, "node": ray_tasks.node_info()},
    )
    outcomes = []
    job = ConvertJob("onnx", "fp32", tiny_reference, tmp_path / "onnx-fp32", {})
    RayExecutor(FakeRay({})).convert([job], True, outcomes.append)
    assert (
        "runs edgekit 0.1.0" in outcomes[0].error and "install the same edgekit version" in outcomes[0].error
    )
    assert not (tmp_path / "onnx-fp32").exists()


# --- a real cluster --------------------------------------------------------------------------------


class RayCluster:
    """A head and a device node on 127.0.0.1, each a `ray start --block` in its own process group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, **RAY_ENV}
        self.ray = str(Path(sys.executable).parent / "ray")
        self.nodes: dict[str, str] = {}

    def _start(self, name: str, *args: str) -> None:
        """Start one node; return once `ray start` says it is up. On a loaded machine a raylet
        can abort at start-up (it gives its agents a fixed 15 s to come up): then try again."""
        for attempt in range(1, START_ATTEMPTS + 1):
            proc, started = self._start_once(f"{name}-{attempt}", args)
            if started:
                self.procs.append(proc)
                return
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        raise AssertionError(f"ray start ({name}) failed {START_ATTEMPTS} times" + self.logs())

    def _start_once(self, name: str, args: tuple[str, ...]) -> tuple[subprocess.Popen, bool]:
        agents = [  # fixed free ports, so that two clusters on one machine never collide
            f"--dashboard-agent-grpc-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}",
            f"--metrics-export-port={_free_port()}",
        ]
        proc = subprocess.Popen(
            [self.ray, "start", *args, "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
            + ["--object-store-memory=80000000", *agents],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,  # its own group: teardown stops exactly the processes it started
        )
        done, started = threading.Event(), threading.Event()

        def drain() -> None:  # keeps the pipe empty for the node's lifetime; says "up" or "ended"
            with open(self.root / f"{name}.log", "wb") as log:
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    if b"Ray runtime started" in line:
                        started.set()
                        done.set()
            done.set()

        threading.Thread(target=drain, daemon=True).start()
        done.wait(STARTUP_S)
        return proc, started.is_set() and proc.poll() is None

    def start(self) -> None:
        self._start(
            "head",
            "--head",
            f"--port={self.port}",
            "--num-cpus=1",
            f"--temp-dir={self.root / 't'}",
            f"--ray-client-server-port={_free_port()}",  # not the fixed default, 10001
            "--include-dashboard=false",
        )
        # the device node takes no CPU tasks (conversions): only the measurements pinned to it
        self._start("device", f"--address={self.address}", "--num-cpus=0", f"--resources={DEVICE_RESOURCE}")
        self.nodes = self._node_ids()

    def _node_ids(self) -> dict[str, str]:
        """The head's and the device node's ids, once the head lists both as alive."""
        script = textwrap.dedent(
            """
            import json, sys, time
            import ray
            ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
            deadline = time.monotonic() + float(sys.argv[2])
            while True:
                nodes = [n for n in ray.nodes() if n["Alive"]]
                device = [n["NodeID"] for n in nodes if "device:rpi4" in n["Resources"]]
                head = [n["NodeID"] for n in nodes if "node:__internal_head__" in n["Resources"]]
                if device and head:
                    print(json.dumps({"head": head[0], "device": device[0]}))
                    break
                if time.monotonic() > deadline:
                    sys.exit("the cluster did not come up: " + json.dumps(nodes, default=str))
                time.sleep(0.5)
            """
        )
        proc = subprocess.run(
            [sys.executable, "-c", script, self.address, str(STARTUP_S)],
            capture_output=True,
            text=True,
            env=self.env,
        )
        assert proc.returncode == 0, proc.stderr[-3000:] + self.logs()
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def logs(self) -> str:
        return "".join(
            f"\n--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
            for p in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM to each node's process group, then SIGKILL to whatever of it is left: some Ray
        processes outlive a SIGTERM by minutes, and nothing started here may outlive the test."""
        for proc in self.procs:
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # the whole group has exited
        pass


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    # Ray's unix sockets live under --temp-dir and must stay under ~100 characters: a short folder
    root = Path(tempfile.mkdtemp(prefix="ekray-", dir="/tmp"))
    ray_cluster = RayCluster(root)
    try:
        ray_cluster.start()
        yield ray_cluster
    finally:
        ray_cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _rows(report: dict) -> list[tuple]:
    return [
        (
            a["format"],
            a["quant"],
            a["status"],
            (a.get("parity") or {}).get("verdict"),
            (a.get("bench") or {}).get("status"),
            (a.get("estimate") or {}).get("fits"),
        )
        for a in report["artifacts"]
    ]


@pytest.mark.cluster
def test_ray_executor_gives_the_local_rows_with_device_cells_on_the_device_node(cluster, tmp_path):
    env = {**os.environ, "EDGEKIT_CACHE": str(tmp_path / "cache"), **RAY_ENV}
    local, remote = tmp_path / "local", tmp_path / "ray"
    common = [sys.executable, "-m", "edgekit", "convert", "--target", TARGETS, *TINY]
    ran = subprocess.run([*common, "--out", str(local)], capture_output=True, text=True, env=env)
    assert ran.returncode == 0, ran.stderr[-4000:]
    ran = subprocess.run(
        [*common, "--out", str(remote), "--executor", "ray", "--ray-address", cluster.address],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr[-4000:] + cluster.logs()
    head, device = cluster.nodes["head"], cluster.nodes["device"]
    # both conversions were Ray tasks, on the head (the device node offers no CPU)
    assert ran.stderr.count(f"Ray task on node {head[:12]}") == 2, ran.stderr[-4000:]

    for target in TARGETS.split(","):
        want = json.loads((local / "demo" / target / "report.json").read_text())
        got = json.loads((remote / "demo" / target / "report.json").read_text())
        assert _rows(got) == _rows(want) and len(_rows(got)) == 2
        assert all(a["bench"]["status"] == "ok" for a in got["artifacts"])
        for a in got["artifacts"]:
            node, artifact = a["bench"]["node"], a["artifact"]
            # a device's cells on the node that advertises it; the others anywhere with a CPU (the head)
            assert node["id"] == (device if target == "rpi4" else head), (target, node)
            assert node["resource"] == ("device:rpi4" if target == "rpi4" else None)
            # the result names this run folder's artifact, as a local measurement does
            assert a["bench"]["artifact"]["path"] == str(
                (remote / "demo" / target / "artifacts" / f"{a['format']}-{a['quant']}").resolve()
                / artifact["path"]
            )
            assert (
                remote / "demo" / target / "artifacts" / f"{a['format']}-{a['quant']}" / artifact["path"]
            ).is_file()
        assert all("node" not in a["bench"] for a in want["artifacts"])
