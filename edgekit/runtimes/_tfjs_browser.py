"""The tfjs-browser channel: a loopback HTTP server plus a headless Chromium that loads its page.

The server (127.0.0.1, an ephemeral port) serves three things and nothing else:
- /js/...     the page (js/browser/), the shared engine (js/lib/) and the tfjs UMD builds and
              .wasm binaries from js/node_modules/@tensorflow/ (no CDN: the machine is offline);
- /model/...  the artifact folder (model.json + weight shards);
- /control/*  the session's mailbox, guarded by a random token: the page long-polls `next` for a
              command, fetches input tensors from `tensor/<ref>` and posts replies to `reply`.

Every response carries COOP/COEP headers, which make the page cross-origin isolated: that is what
gives it SharedArrayBuffer, and so the threaded-SIMD wasm binary.

Chromium runs in its own process group so close() can end it with all its children, and under
`setpriv --pdeathsig KILL` (when launched from the main thread) so it dies with a crashed Python
process too: no zombie browsers.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import NotInstalledError, RuntimeLoadError

CHROMIUM_HINT = (
    "install Chromium (Debian/Ubuntu: `apt-get install -y chromium`) or point EDGEKIT_CHROMIUM at "
    "a Chromium or Chrome executable"
)
# The usual install locations, checked in order after EDGEKIT_CHROMIUM and before PATH.
CHROMIUM_PATHS = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
CHROMIUM_COMMANDS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--no-default-browser-check",
)
POLL_S = 10.0  # how long one `next` long-poll waits before answering 204
JS_PREFIXES = ("browser/", "lib/", "node_modules/@tensorflow/")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
}
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_CLOSING = object()  # queued to release a page that is long-polling while the session closes


def find_chromium() -> str:
    """EDGEKIT_CHROMIUM if set (it must be executable), else the usual places, else PATH."""
    override = os.environ.get("EDGEKIT_CHROMIUM")
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise NotInstalledError(f"EDGEKIT_CHROMIUM={override} is not an executable file", hint=CHROMIUM_HINT)
    for candidate in (*CHROMIUM_PATHS, *(shutil.which(c) for c in CHROMIUM_COMMANDS)):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise NotInstalledError(
        "headless Chromium is not installed (looked in EDGEKIT_CHROMIUM, "
        f"{', '.join(CHROMIUM_PATHS[:3])}, … and PATH)",
        hint=CHROMIUM_HINT,
    )


class _Mailbox:
    """What the server's handler threads share with the channel."""

    def __init__(self, model_dir: Path, js_dir: Path) -> None:
        self.token = secrets.token_urlsafe(16)
        self.roots = {"model": model_dir.resolve(), "js": js_dir.resolve()}
        self.commands: queue.Queue[Any] = queue.Queue()
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.inputs: dict[str, bytes] = {}
        self.logs: collections.deque[str] = collections.deque(maxlen=20)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the page's own errors arrive on /control/log; access logs would only be noise

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        for key, value in ISOLATION_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> tuple[str, str, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        head, _, rest = urllib.parse.unquote(url.path).lstrip("/").partition("/")
        return head, rest, urllib.parse.parse_qs(url.query)

    def do_GET(self) -> None:
        head, rest, query = self._route()
        if head == "control":
            return self._control_get(rest, query)
        self._static(head, rest)

    def do_POST(self) -> None:
        head, rest, query = self._route()
        mailbox = self.server.mailbox
        if head != "control" or query.get("token") != [mailbox.token]:
            return self._send(HTTPStatus.FORBIDDEN)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            payload = json.loads(body)
        except ValueError:
            return self._send(HTTPStatus.BAD_REQUEST)
        if rest == "reply":
            mailbox.replies.put(payload)
        elif rest == "log":
            mailbox.logs.append(json.dumps(payload))
        else:
            return self._send(HTTPStatus.NOT_FOUND)
        self._send(HTTPStatus.NO_CONTENT)

    def _control_get(self, rest: str, query: dict[str, list[str]]) -> None:
        mailbox = self.server.mailbox
        if query.get("token") != [mailbox.token]:
            return self._send(HTTPStatus.FORBIDDEN)
        if rest == "next":
            try:
                command = mailbox.commands.get(timeout=POLL_S)
            except queue.Empty:
                return self._send(HTTPStatus.NO_CONTENT)
            if command is _CLOSING:
                mailbox.commands.put(_CLOSING)  # release any other poller too
                return self._send(HTTPStatus.GONE)
            return self._send(HTTPStatus.OK, json.dumps(command).encode(), "application/json")
        if rest.startswith("tensor/") and rest[len("tensor/") :] in mailbox.inputs:
            return self._send(HTTPStatus.OK, mailbox.inputs[rest[len("tensor/") :]])
        self._send(HTTPStatus.NOT_FOUND)

    def _static(self, head: str, rest: str) -> None:
        root = self.server.mailbox.roots.get(head)
        if root is None or (head == "js" and not rest.startswith(JS_PREFIXES)):
            return self._send(HTTPStatus.NOT_FOUND)
        target = (root / rest).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return self._send(HTTPStatus.NOT_FOUND)
        self._send(
            HTTPStatus.OK, target.read_bytes(), CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a page still long-polling must not keep close() or the interpreter waiting
    block_on_close = False

    def __init__(self, mailbox: _Mailbox) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mailbox = mailbox


def _launch(chromium: str, url: str, profile: Path, log: Any) -> subprocess.Popen:
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url]
    setpriv = shutil.which("setpriv")
    # The death signal is tied to the launching *thread*; only the main thread lives as long as
    # the process, so elsewhere we rely on close() and the session finalizer alone.
    if setpriv and threading.current_thread() is threading.main_thread():
        cmd = [setpriv, "--pdeathsig", "KILL", "--", *cmd]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)


def _stop_group(proc: subprocess.Popen, wait_s: float = 5.0) -> None:
    """Stop Chromium and every process it started.

    SIGTERM goes to the browser process alone: it then shuts its renderers down and reaps them
    itself (signalling the whole group at once would orphan them as zombies for init to collect).
    SIGKILL for the group follows when it lingers, and once more for any straggler."""
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    _wait_group_dead(proc.pid, wait_s)


def _wait_group_dead(pgid: int, wait_s: float) -> None:
    """Return once no live process is left in the group (Linux /proc; elsewhere at once).

    Children that the browser did not reap itself stay zombies (already dead, holding no memory)
    until the process that adopts them reaps them; only live ones are waited for."""
    deadline = time.monotonic() + wait_s
    while _live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _live_members(pgid: int) -> list[int]:
    live = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                    live.append(int(entry.name))
    return live


class BrowserChannel:
    """One headless Chromium page running js/browser/page.mjs against one artifact folder."""

    def __init__(
        self, chromium: str, model_dir: Path, model_name: str, backend: str, threads: int, js_dir: Path
    ) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="edgekit-tfjs-browser-"))
        self._log = open(self._tmp / "chromium.log", "w+b")
        self._mailbox = _Mailbox(model_dir, js_dir)
        self._server = _Server(self._mailbox)
        threading.Thread(
            target=self._server.serve_forever, name="edgekit-tfjs-browser-http", daemon=True
        ).start()
        query = urllib.parse.urlencode(
            {
                "model": f"/model/{model_name}",
                "backend": backend,
                "threads": threads,
                "token": self._mailbox.token,
            }
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/js/browser/index.html?{query}"
        self.profile = self._tmp / "profile"
        try:
            self._proc = _launch(chromium, self.url, self.profile, self._log)
        except OSError as exc:
            self._stop_server()
            raise RuntimeLoadError(f"cannot start {chromium}: {exc}", hint=CHROMIUM_HINT) from exc
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_ready(self, timeout_s: float) -> dict[str, Any]:
        return self._reply(0, timeout_s)

    def request(self, msg: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self._closed:
            raise RuntimeLoadError("the Chromium session is closed")
        with self._lock:
            msg = {**msg, "id": next(self._ids)}
            self._mailbox.commands.put(msg)
            return self._reply(msg["id"], timeout_s)

    def _reply(self, msg_id: int, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            if self._proc.poll() is not None:
                why = f"Chromium exited (code {self._proc.returncode}){self._diagnostics()}"
                self.close()
                raise RuntimeLoadError(why)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                why = f"the page in Chromium did not answer within {timeout_s:.0f} s; it was stopped{self._diagnostics()}"
                self.close()
                raise RuntimeLoadError(why)
            try:
                reply = self._mailbox.replies.get(timeout=min(0.25, remaining))
            except queue.Empty:
                continue
            if reply.get("id") == msg_id:
                return reply

    @contextlib.contextmanager
    def staged(self, x: np.ndarray) -> Iterator[str]:
        ref = secrets.token_hex(8)
        self._mailbox.inputs[ref] = np.ascontiguousarray(x, dtype="<f4").tobytes()
        try:
            yield ref
        finally:
            self._mailbox.inputs.pop(ref, None)

    def _diagnostics(self, limit: int = 2000) -> str:
        parts = []
        if self._mailbox.logs:
            parts.append("page errors: " + " | ".join(self._mailbox.logs))
        with contextlib.suppress(OSError, ValueError):
            self._log.flush()
            text = (self._tmp / "chromium.log").read_text(errors="replace").strip()
            if text:
                parts.append(f"chromium log (last lines): {text[-limit:]}")
        return "".join(f"\n  {p}" for p in parts)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._mailbox.commands.put(_CLOSING)
        _stop_group(self._proc)
        self._stop_server()

    def _stop_server(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(OSError):
            self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
