"""Test support for edgekit.sources: the loopback model server, archive builders, tiny modules.

The server speaks like the two real services:
- tfhub.dev: GET /<publisher>/<model...>/<version>?tf-hub-format=compressed → the module .tar.gz
- Kaggle: GET /api/v1/models/<o>/<m>/<f>/<v>/<version>/download → 302 to a signed, expiring
  /storage/<token>?X-Goog-Expires=..&X-Goog-Signature=.. URL that serves the .tar.gz with an
  `x-goog-hash: md5=...` header; GET /api/v1/models/<o>/<m>/<f>/<v>/get → {"versionNumber": N}.
It can drop the connection after a fraction of the body, stall mid-body, hold the body mid-way
until the test lets it go, expire a signed URL, or state a wrong MD5, and it counts every archive
body it starts to send.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import io
import json
import os
import socket
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

TINY_SIZE = 8
TINY_DIM = 2
MOBILENET_TFHUB = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
MOBILENET_KAGGLE = "google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5"


class ModelServer:
    def __init__(self) -> None:
        self.archives: dict[str, bytes] = {}
        self.versions: dict[str, int] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.drops: dict[str, list[float]] = {}  # per key: drop fraction for each next request
        self.expire_next: collections.Counter[str] = collections.Counter()
        self.bad_md5 = False
        self.stall_s = 0.0
        # hold_body: when set to an Event, every archive body stops after its first half until the
        # test sets it; holding is set the moment a body is held (the client is mid-download).
        self.hold_body: threading.Event | None = None
        self.holding = threading.Event()
        self.log: list[tuple[str, dict[str, str]]] = []
        self.secret = os.urandom(16)
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # dropped connections are on purpose
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def add_tfhub(self, path: str, data: bytes) -> str:
        key = f"tfhub/{path.strip('/')}"
        self.archives[key] = data
        return key

    def add_kaggle(self, handle: str, data: bytes, *, current: bool = True) -> str:
        """HANDLE: owner/model/framework/variation/version (any case)."""
        handle = handle.strip("/").lower()
        key = f"kaggle/{handle}"
        self.archives[key] = data
        if current:
            self.versions[handle.rsplit("/", 1)[0]] = int(handle.rsplit("/", 1)[1])
        return key

    def sign(self, key: str, expires: float) -> str:
        return hmac.new(self.secret, f"{key}|{expires}".encode(), hashlib.sha256).hexdigest()

    def requests_to(self, prefix: str) -> list[tuple[str, dict[str, str]]]:
        return [r for r in self.log if r[0].startswith(prefix)]

    def close(self) -> None:
        if self.hold_body is not None:
            self.hold_body.set()  # let a held handler thread finish
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: ModelServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with server.lock:
                server.log.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path.startswith("/api/v1/models/"):
                return self._kaggle_api(url.path[len("/api/v1/models/") :].strip("/").split("/"))
            if url.path.startswith("/storage/"):
                return self._storage(unquote(url.path[len("/storage/") :]), query)
            if query.get("tf-hub-format") == ["compressed"]:
                key = f"tfhub/{url.path.strip('/')}"
                return self._serve(key) if key in server.archives else self._status(404)
            return self._status(404)

        def _kaggle_api(self, parts: list[str]) -> None:
            lowered = "/".join(parts).lower()
            if len(parts) == 5 and parts[4] == "get":
                version = server.versions.get(lowered.rsplit("/", 1)[0])
                if version is None:
                    return self._status(404)
                body = json.dumps({"versionNumber": version, "slug": parts[3]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            if len(parts) == 6 and parts[5] == "download":
                key = f"kaggle/{lowered.rsplit('/', 1)[0]}"
                if key not in server.archives:
                    return self._status(404)
                expires = time.time() + 60
                location = f"/storage/{quote(key, safe='')}?X-Goog-Expires={expires}&X-Goog-Signature={server.sign(key, expires)}"
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._status(404)

        def _storage(self, key: str, query: dict[str, list[str]]) -> None:
            expires = float(query.get("X-Goog-Expires", ["0"])[0])
            signature = query.get("X-Goog-Signature", [""])[0]
            if key not in server.archives or not hmac.compare_digest(signature, server.sign(key, expires)):
                return self._status(403)
            with server.lock:
                expired = time.time() > expires or server.expire_next[key] > 0
                if server.expire_next[key] > 0:
                    server.expire_next[key] -= 1
            if expired:
                return self._status(403)
            return self._serve(key, goog_hash=True)

        def _serve(self, key: str, goog_hash: bool = False) -> None:
            data = server.archives[key]
            with server.lock:
                server.hits[key] += 1
                pending = server.drops.get(key) or []
                fraction = pending.pop(0) if pending else None
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(data)))
            if goog_hash:
                md5 = hashlib.md5(b"not these bytes" if server.bad_md5 else data).digest()
                self.send_header("x-goog-hash", f"crc32c=AAAAAA==,md5={base64.b64encode(md5).decode()}")
            self.end_headers()
            cut = len(data) if fraction is None else int(len(data) * fraction)
            self.wfile.write(data[: cut // 2])
            self.wfile.flush()
            if server.stall_s:
                time.sleep(server.stall_s)
            if server.hold_body is not None:
                server.holding.set()
                server.hold_body.wait(120)
            self.wfile.write(data[cut // 2 : cut])
            self.wfile.flush()
            if fraction is not None:  # hang up mid-body, like a dropped connection
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        def _status(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


# -- archives ------------------------------------------------------------------------------------


def tar_gz(files: dict[str, bytes], *, root: str = "./") -> bytes:
    """A .tar.gz holding FILES (archive path → bytes), deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p in files if str(Path(p).parent) != "."})
        for d in dirs:
            info = tarfile.TarInfo(root + d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(root + name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def folder_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def tar_members(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A .tar.gz from raw TarInfo entries (for hostile archives)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def snapshot(folder: Path, *, exclude: Path | None = None) -> dict[str, int]:
    """Every path below FOLDER (but EXCLUDE) → size; to prove nothing was written outside."""
    out = {}
    for p in folder.rglob("*"):
        if exclude is not None and (p == exclude or exclude in p.parents):
            continue
        out[str(p)] = p.lstat().st_size if not p.is_dir() else -1
    return out


# -- tiny modules (built with TensorFlow, a few KB) ----------------------------------------------


def build_tiny_module(folder: Path, *, seed: int = 0, write_file: bool = False) -> Path:
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([3, TINY_DIM], seed=[seed, 1]))

        @tf.function(input_signature=[tf.TensorSpec([None, TINY_SIZE, TINY_SIZE, 3], tf.float32)])
        def __call__(self, x):
            y = tf.matmul(tf.reduce_mean(x, [1, 2]), self.w)
            if write_file:  # a module that leaves a file behind whenever it runs
                tf.io.write_file("/tmp/edgekit-was-here", tf.strings.as_string(tf.reduce_sum(y)))
            return y

    module = Tiny()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.__call__})
    return folder


# -- SavedModels written as protobufs (a few hundred bytes, no tracing) --------------------------


def node(
    name: str, op: str, *inputs: str, func: str | None = None, const: str | None = None, **string_attrs: str
):
    from tensorflow.core.framework import node_def_pb2, types_pb2

    n = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    if func:
        n.attr["f"].func.name = func
    if const is not None:
        n.attr["dtype"].type = types_pb2.DT_STRING
        n.attr["value"].tensor.dtype = types_pb2.DT_STRING
        n.attr["value"].tensor.string_val.append(const.encode())
    for key, value in string_attrs.items():
        n.attr[key].s = value.encode()
    return n


def graph_saved_model(folder: Path, *, main=(), functions=None, saver=None, concrete=()) -> Path:
    """A SavedModel whose only content is the given graph: main nodes, {name: (args, nodes)}.

    SAVER: (filename_tensor, save_tensor, restore_op) names for the saver_def. CONCRETE: function
    names registered as the object graph's concrete functions (what tf.saved_model.load calls).
    """
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    mg = sm.meta_graphs.add()
    mg.meta_info_def.tags.append("serve")
    mg.graph_def.node.extend(main)
    for fname, (args, nodes) in (functions or {}).items():
        f = mg.graph_def.library.function.add()
        f.signature.name = fname
        for a in args:
            arg = f.signature.input_arg.add()
            arg.name, arg.type = a, types_pb2.DT_STRING
        f.node_def.extend(nodes)
    if saver:
        mg.saver_def.filename_tensor_name, mg.saver_def.save_tensor_name, mg.saver_def.restore_op_name = saver
    for name in concrete:
        mg.object_graph_def.concrete_functions[name].bound_inputs.extend([])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "saved_model.pb").write_bytes(sm.SerializeToString())
    return folder


# -- work done in child processes (spawned: importable by name, no TensorFlow) -------------------


def hold_lock_and_die(lock_path: str, backend: str, ready) -> None:
    from edgekit.filelock import FileLock

    lock = FileLock(lock_path, backend=backend)
    lock.acquire()
    ready.set()
    os._exit(0)  # die holding it: no release, no cleanup
