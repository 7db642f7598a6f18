"""A device-side stand-in for adbd: a TCP server on 127.0.0.1 that speaks adb's transport protocol,
so that the real `adb` client and server (Debian's) talk to it as to a phone over `adb connect`.

What it follows (AOSP packages/modules/adb: protocol.txt, SERVICES.TXT, SYNC.TXT, shell_protocol.h,
daemon/shell_service.cpp, daemon/file_sync_service.cpp):

- Messages: a 24-byte little-endian header (command, arg0, arg1, data_length, data_check, magic =
  command ^ 0xffffffff) and the payload. CNXN is answered with this device's banner
  `device::ro.product.name=…;ro.product.model=…;ro.product.device=…;features=…` at protocol version
  0x01000001 (payload checksums skipped: 0 is sent, a non-zero one from an older host is checked).
  By default no AUTH: an adbd with authentication off (as on emulators and userdebug builds). With
  `require_auth`, CNXN is answered AUTH(TOKEN=1, 0, 20 random bytes); every AUTH(SIGNATURE=2) is
  answered with a new token (the stand-in trusts no key), and after AUTH(RSAPUBLICKEY=3) the device
  waits for the user, who never taps "Allow": adb lists it as `unauthorized`.
- Streams: OPEN(host-id, 0, "service\\0") is answered OKAY(device-id, host-id) or, for a service the
  stand-in does not have, CLSE(0, host-id). WRTE carries at most the negotiated payload size; every
  WRTE is acknowledged with OKAY, and the stand-in sends its next WRTE on a stream only after the
  host's OKAY for the previous one. CLSE from either side ends a stream.
- `shell,v2,raw:CMD` (only when `shell_v2` is advertised): /bin/sh -c CMD in a new session with
  pipes; output in shell-protocol packets (1-byte id: 0 stdin, 1 stdout, 2 stderr, 3 exit,
  4 close-stdin, 5 window-size; then a 4-byte length); the exit packet carries the status
  (0x80 | signal for a signalled process). The host closing the stream sends SIGHUP to the shell's
  pid only, as adbd does; what the shell started in the background keeps running.
- `shell:CMD` (legacy, no protocol): /bin/sh -c CMD on a pseudo-terminal in raw mode, which is the
  shell's controlling terminal; stdout and stderr arrive merged and there is no exit status: the
  stream just closes. The host closing the stream closes the terminal, which hangs up (SIGHUP) the
  shell's foreground process group.
- A `shell` service without `raw` or `pty` and with a command is raw, as in adbd: that is how
  adb 29 asks for `mkdir` before pushing a folder to a device without `fixed_push_mkdir`.
- `sync:`: STAT, LIST, SEND (parent folders created, file mode and mtime set; no symlinks), RECV,
  QUIT; 8-byte requests (4-byte id, 4-byte length) and DATA chunks of at most 64 KiB; a failed
  request is a FAIL with adbd's message and ends the sync session. The *_v2 verbs (STA2, LST2,
  SND2, RCV2) are refused: `stat_v2`, `ls_v2` and `sendrecv_v2` are not advertised, so the client
  does not send them.

Device paths are this machine's paths (the tests give a temporary folder as the device's workdir).
`vanish()` makes the device disappear mid-command: the listening socket and every connection are
closed, and the device's own streams end as adbd ends them when its transport goes away.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import signal
import socket
import stat
import struct
import subprocess
import threading
import tty
from collections.abc import Callable

A_SYNC, A_CNXN, A_OPEN, A_OKAY, A_CLSE, A_WRTE, A_AUTH = (
    int.from_bytes(name, "little") for name in (b"SYNC", b"CNXN", b"OPEN", b"OKAY", b"CLSE", b"WRTE", b"AUTH")
)
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 256 * 1024
HEADER = struct.Struct("<6I")
SYNC_DATA_MAX = 64 * 1024
# shell protocol packet ids (shell_protocol.h)
ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = range(6)
SHELL_HEADER = struct.Struct("<BI")

DEFAULT_FEATURES = ("shell_v2", "cmd")
LEGACY_FEATURES = ("cmd",)


def checksum(data: bytes) -> int:
    """adb's payload check: the byte sum (protocol.txt calls it crc32; adbd never computed one)."""
    return sum(data) & 0xFFFFFFFF


class Gone(Exception):
    """The connection to the host ended."""


class Connection:
    """One transport (one TCP connection from the adb server)."""

    def __init__(self, device: AdbdStandIn, sock: socket.socket) -> None:
        self.device, self.sock = device, sock
        self.send_lock = threading.Lock()
        self.version = A_VERSION_MIN
        self.max_payload = 4096  # until CNXN says otherwise
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.closed = threading.Event()
        self.online = False  # CNXN sent: streams may be opened

    # --- wire ---------------------------------------------------------------------------------------
    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        check = checksum(data) if command == A_CNXN or self.version < A_VERSION_SKIP_CHECKSUM else 0
        header = HEADER.pack(command, arg0, arg1, len(data), check, command ^ 0xFFFFFFFF)
        with self.send_lock:
            if self.closed.is_set():
                raise Gone
            try:
                self.sock.sendall(header + data)
            except OSError:
                raise Gone from None

    def _recv_exactly(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            try:
                chunk = self.sock.recv(min(left, 1 << 20))
            except OSError:
                chunk = b""
            if not chunk:
                raise Gone
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def serve(self) -> None:
        try:
            while True:
                command, arg0, arg1, length, check, magic = HEADER.unpack(self._recv_exactly(HEADER.size))
                data = self._recv_exactly(length) if length else b""
                if magic != command ^ 0xFFFFFFFF:
                    self.device.note(f"bad magic {magic:#x}: connection dropped")
                    break
                if self.version < A_VERSION_SKIP_CHECKSUM and check and check != checksum(data):
                    self.device.note("bad payload checksum: connection dropped")
                    break
                self.handle(command, arg0, arg1, data)
        except Gone:
            pass
        finally:
            self.close()

    def handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.version = min(arg0, A_VERSION_SKIP_CHECKSUM)
            self.max_payload = min(arg1, MAX_PAYLOAD)
            identity = data.rstrip(b"\0").decode(errors="replace")
            self.device.note(f"CNXN {arg0:#x} {arg1} {identity}")
            if self.device.require_auth:
                self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
            else:
                self.online = True
                self.send(A_CNXN, A_VERSION_SKIP_CHECKSUM, MAX_PAYLOAD, self.device.banner())
        elif command == A_AUTH:
            self.device.note(f"AUTH {arg0}")
            if arg0 == AUTH_SIGNATURE:  # no key is trusted: ask for another signature
                self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
            # AUTH_RSAPUBLICKEY: adbd would show the "Allow USB debugging?" dialog; nobody answers it
        elif not self.online:
            self.device.note(f"ignored command {command:#x} before the connection was accepted")
        elif command == A_OPEN:
            service = data.rstrip(b"\0").decode("utf-8", "replace")
            self.device.note(f"OPEN {service}")
            self.open(arg0, service)
        elif command == A_WRTE:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.received(data)
                self.send(A_OKAY, arg1, arg0)
        elif command == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.acknowledged(arg0)
        elif command == A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.host_closed()
        else:  # SYNC, AUTH and unknown commands: adbd ignores what it does not expect
            self.device.note(f"ignored command {command:#x}")

    def open(self, remote_id: int, service: str) -> None:
        local_id, self.next_id = self.next_id, self.next_id + 1
        factory = self.device.service(service)
        if factory is None:
            self.send(A_CLSE, 0, remote_id)
            return
        stream = Stream(self, local_id, remote_id)
        self.streams[local_id] = stream
        self.send(A_OKAY, local_id, remote_id)
        try:
            stream.handler = factory(stream)
        except OSError as exc:  # could not start: the host sees the stream close
            self.device.note(f"{service}: {exc}")
            stream.close()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(OSError):  # first: it ends a sendall() blocked under send_lock
            self.sock.shutdown(socket.SHUT_RDWR)
        with self.send_lock:
            self.sock.close()
        for stream in list(self.streams.values()):
            stream.host_closed()  # adbd closes every local socket of a transport that went away
        self.streams.clear()


class Stream:
    """One OPEN stream; `send` blocks until the host acknowledged the previous WRTE."""

    def __init__(self, conn: Connection, local_id: int, remote_id: int) -> None:
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.ready = threading.Semaphore(1)
        self.ended = threading.Event()
        self.handler: Handler | None = None

    def send(self, data: bytes) -> None:
        for start in range(0, len(data), self.conn.max_payload):
            while not self.ready.acquire(timeout=0.5):
                if self.ended.is_set():
                    raise Gone
            if self.ended.is_set():
                raise Gone
            self.conn.send(A_WRTE, self.local_id, self.remote_id, data[start : start + self.conn.max_payload])

    def acknowledged(self, _remote_id: int) -> None:
        self.ready.release()

    def received(self, data: bytes) -> None:
        if self.handler is not None:
            self.handler.received(data)

    def close(self) -> None:
        """The device side is done: CLSE to the host."""
        if self.ended.is_set():
            return
        self.ended.set()
        self.conn.streams.pop(self.local_id, None)
        with contextlib.suppress(Gone):
            self.conn.send(A_CLSE, self.local_id, self.remote_id)

    def host_closed(self) -> None:
        if self.ended.is_set():
            return
        self.ended.set()
        if self.handler is not None:
            self.handler.host_closed()


class Handler:
    def received(self, data: bytes) -> None:
        """Data from the host."""

    def host_closed(self) -> None:
        """The host (or the transport) closed the stream."""


def _spawn_thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, daemon=True).start()


class Relay:
    """Copies a process's output fds to the host until they close or the host goes away.

    One thread polls the output fds and a wake-up pipe (as adbd's shell thread polls its fds):
    closing an fd under a thread blocked reading it would neither wake that thread nor, for a
    terminal, hang it up, so `stop()` wakes the thread and the thread closes the fds itself."""

    def __init__(self, fds: dict[int, Callable[[bytes], None]], size: int, after: Callable[[], None]) -> None:
        self.fds, self.size, self.after = fds, size, after
        self.wake_r, self.wake_w = os.pipe()
        self.lock, self.done = threading.Lock(), False
        _spawn_thread(self._run)

    def stop(self) -> None:
        with self.lock:
            if not self.done:
                os.write(self.wake_w, b"x")

    def _run(self) -> None:
        open_fds = dict(self.fds)
        with selectors.DefaultSelector() as sel:
            for fd in [*open_fds, self.wake_r]:
                sel.register(fd, selectors.EVENT_READ)
            stopped = False
            while open_fds and not stopped:
                for key, _ in sel.select():
                    if key.fd == self.wake_r:
                        stopped = True
                        break
                    try:
                        block = os.read(key.fd, self.size)
                    except OSError:  # EIO: a terminal whose other end every holder has closed
                        block = b""
                    if not block:
                        sel.unregister(key.fd)
                        os.close(key.fd)
                        del open_fds[key.fd]
                        continue
                    try:
                        open_fds[key.fd](block)
                    except Gone:
                        stopped = True
                        break
        with self.lock:
            self.done = True
            for fd in [*open_fds, self.wake_r, self.wake_w]:
                os.close(fd)
        self.after()


class ShellV2(Handler):
    """`shell,v2,raw:CMD`: pipes, separate stdout and stderr, the exit status in an exit packet."""

    def __init__(self, device: AdbdStandIn, stream: Stream, command: str, term: str) -> None:
        self.stream, self.buffer = stream, b""
        stdin_r, self.stdin = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.proc = device.spawn(command, term, stdin=stdin_r, stdout=out_w, stderr=err_w)
        finally:
            for fd in (stdin_r, out_w, err_w):
                os.close(fd)
        self.stdin_lock = threading.Lock()
        self.relay = Relay(
            {out_r: lambda b: self._packet(ID_STDOUT, b), err_r: lambda b: self._packet(ID_STDERR, b)},
            stream.conn.max_payload - SHELL_HEADER.size,
            self._finish,
        )

    def _packet(self, ident: int, data: bytes) -> None:
        self.stream.send(SHELL_HEADER.pack(ident, len(data)) + data)

    def _finish(self) -> None:
        status = self.proc.wait()
        if not self.stream.ended.is_set():
            code = (0x80 | -status) if status < 0 else status
            with contextlib.suppress(Gone):
                self._packet(ID_EXIT, bytes([code & 0xFF]))
        self._close_stdin()
        self.stream.close()

    def _close_stdin(self) -> None:
        with self.stdin_lock:
            if self.stdin >= 0:
                os.close(self.stdin)
                self.stdin = -1

    def received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= SHELL_HEADER.size:
            ident, length = SHELL_HEADER.unpack_from(self.buffer)
            if len(self.buffer) < SHELL_HEADER.size + length:
                return
            payload = self.buffer[SHELL_HEADER.size : SHELL_HEADER.size + length]
            self.buffer = self.buffer[SHELL_HEADER.size + length :]
            if ident == ID_STDIN:
                with self.stdin_lock, contextlib.suppress(OSError):
                    if self.stdin >= 0:
                        os.write(self.stdin, payload)
            elif ident == ID_CLOSE_STDIN:
                self._close_stdin()

    def host_closed(self) -> None:
        # shell_service.cpp: "protocol FD died, sending SIGHUP to pid", then it closes the child's
        # pipes; a background process of the shell is not signalled and keeps running
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGHUP)
        self._close_stdin()
        self.relay.stop()


class ShellLegacy(Handler):
    """`shell:CMD`: a raw pty, stdout and stderr merged, no exit status (the stream just closes)."""

    def __init__(self, device: AdbdStandIn, stream: Stream, command: str, term: str) -> None:
        self.stream = stream
        master, slave = os.openpty()
        tty.setraw(slave)  # adbd: cfmakeraw on the child's side, so no \r\n translation
        try:
            self.proc = device.spawn(
                command, term, stdin=slave, stdout=slave, stderr=slave, controlling_terminal=True
            )
        finally:
            os.close(slave)
        self.input = os.dup(master)  # host → shell; the relay owns (and at the end closes) `master`
        self.input_lock = threading.Lock()
        self.relay = Relay({master: stream.send}, stream.conn.max_payload, self._finish)

    def _finish(self) -> None:
        self._close_input()  # the last handle on the terminal's master side: it hangs up
        self.proc.wait()
        self.stream.close()

    def _close_input(self) -> None:
        with self.input_lock:
            if self.input >= 0:
                os.close(self.input)
                self.input = -1

    def received(self, data: bytes) -> None:
        with self.input_lock, contextlib.suppress(OSError):
            if self.input >= 0:
                os.write(self.input, data)

    def host_closed(self) -> None:
        self.relay.stop()  # the relay closes the master: SIGHUP to the terminal's foreground group


class Sync(Handler):
    """`sync:`: requests arrive as bytes in WRTEs; one thread reads them in order and answers."""

    def __init__(self, device: AdbdStandIn, stream: Stream) -> None:
        self.device, self.stream = device, stream
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self.buffer = b""
        _spawn_thread(self._serve)

    def received(self, data: bytes) -> None:
        self.inbox.put(data)

    def host_closed(self) -> None:
        self.inbox.put(None)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            block = self.inbox.get()
            if block is None:
                raise Gone
            self.buffer += block
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _request(self) -> tuple[bytes, int]:
        head = self._read(8)
        return head[:4], int.from_bytes(head[4:], "little")

    def _reply(self, ident: bytes, *values: int, payload: bytes = b"") -> None:
        self.stream.send(ident + struct.pack(f"<{len(values)}I", *values) + payload)

    def _fail(self, message: str) -> None:
        data = message.encode()
        self._reply(b"FAIL", len(data), payload=data)

    def _serve(self) -> None:
        try:
            while True:
                ident, length = self._request()
                if ident == b"QUIT":
                    break
                path = self._read(length).decode("utf-8", "surrogateescape")
                self.device.note(f"sync {ident.decode(errors='replace')} {path}")
                if ident == b"STAT":
                    self._stat(path)
                elif ident == b"LIST":
                    self._list(path)
                elif ident == b"SEND":
                    if not self._send(path):
                        break  # adbd ends the sync session after a failed request
                elif ident == b"RECV":
                    if not self._recv(path):
                        break
                else:  # STA2/LST2/SND2/RCV2 and anything else: not offered by this device
                    self._fail(f"unknown command {ident!r}")
                    break
        except Gone:
            pass
        self.stream.close()

    def _stat(self, path: str) -> None:
        try:
            st = os.lstat(path)
            self._reply(b"STAT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime))
        except OSError:
            self._reply(b"STAT", 0, 0, 0)

    def _list(self, path: str) -> None:
        with contextlib.suppress(OSError):
            for name in [".", "..", *sorted(os.listdir(path))]:
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(path, name))
                    raw = name.encode("utf-8", "surrogateescape")
                    self._reply(
                        b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(raw), payload=raw
                    )
        self._reply(b"DONE", 0, 0, 0, 0)

    def _send(self, spec: str) -> bool:
        """file_sync_service.cpp send_impl/handle_send_file: unlink a regular file in the way, open
        (creating the parent folders on ENOENT), write DATA as it comes, then OKAY and the mtime."""
        path, _, mode_text = spec.rpartition(",")
        mode = int(mode_text) if mode_text.isdigit() else 0
        if stat.S_ISLNK(mode):
            return self._fail_draining("symlinks are not supported by this stand-in")
        mode &= 0o777
        mode |= (mode >> 3) & 0o070  # adbd copies the user's bits to group and other
        mode |= (mode >> 3) & 0o007
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            try:
                fd = os.open(path, flags, mode)
            except FileNotFoundError:
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                except OSError as exc:
                    return self._fail_draining(f"secure_mkdirs() failed: {exc.strerror}")
                fd = os.open(path, flags, mode)
        except FileExistsError:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            return self._fail_draining(f"couldn't create file: {exc.strerror}")
        with os.fdopen(fd, "wb") as f:
            while True:
                ident, length = self._request()
                if ident == b"DONE":
                    mtime = length
                    break
                if ident != b"DATA" or length > SYNC_DATA_MAX:
                    self._fail("invalid data message")
                    return False
                f.write(self._read(length))
            os.fchmod(f.fileno(), mode)
        os.utime(path, (mtime, mtime), follow_symlinks=False)
        self._reply(b"OKAY", 0)
        return True

    def _fail_draining(self, message: str) -> bool:
        """FAIL, then read and drop DATA until DONE, as adbd does for clients that keep writing."""
        self._fail(message)
        while True:
            ident, length = self._request()
            if ident != b"DATA" or length > SYNC_DATA_MAX:
                return False
            self._read(length)

    def _recv(self, path: str) -> bool:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below; an error must become FAIL
        except OSError as exc:
            self._fail(f"open failed: {exc.strerror}")
            return False
        with f:
            while block := f.read(SYNC_DATA_MAX):
                self._reply(b"DATA", len(block), payload=block)
        self._reply(b"DONE", 0)
        return True


class AdbdStandIn:
    """The device: start() → its port; serial for adb is `127.0.0.1:PORT` after `adb connect`."""

    def __init__(
        self,
        features: tuple[str, ...] = DEFAULT_FEATURES,
        model: str = "EdgekitStandIn",
        product: str = "edgekit_standin",
        require_auth: bool = False,
    ) -> None:
        self.features, self.model, self.product = features, model, product
        self.require_auth = require_auth
        self.log: list[str] = []
        self.log_lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[Connection] = []
        self.procs: list[subprocess.Popen] = []
        self.gone = threading.Event()
        self.accepted = threading.Event()

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    def note(self, line: str) -> None:
        with self.log_lock:
            self.log.append(line)

    def banner(self) -> bytes:
        props = (
            f"ro.product.name={self.product};ro.product.model={self.model};ro.product.device={self.product};"
        )
        return f"device::{props}features={','.join(self.features)}".encode()

    def start(self) -> AdbdStandIn:
        _spawn_thread(self._accept)
        return self

    def _accept(self) -> None:
        while not self.gone.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            if self.gone.is_set():
                sock.close()
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(self, sock)
            self.connections.append(conn)
            self.accepted.set()
            _spawn_thread(conn.serve)

    def service(self, name: str) -> Callable[[Stream], Handler] | None:
        if name.startswith("shell,") or name.startswith("shell:"):
            options, _, command = name.partition(":")
            flags = options.split(",")[1:]
            term = next((f[5:] for f in flags if f.startswith("TERM=")), "dumb")
            if "v2" in flags:
                if "shell_v2" not in self.features:
                    return None  # adbd without the shell protocol does not know this service
                if "pty" in flags:
                    return None  # not offered by the stand-in: edgekit never asks for a terminal
                return lambda stream: ShellV2(self, stream, command, term)
            return lambda stream: ShellLegacy(self, stream, command, term)
        if name == "sync:":
            return lambda stream: Sync(self, stream)
        return None

    def spawn(
        self, command: str, term: str, controlling_terminal: bool = False, **streams
    ) -> subprocess.Popen:
        """/bin/sh -c COMMAND in a new session, as adbd starts shells (setsid in the child)."""
        preexec = _take_terminal if controlling_terminal else None
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            env={**os.environ, "TERM": term},
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - only an ioctl; needed to make the pty controlling
            **streams,
        )
        self.procs.append(proc)
        return proc

    def vanish(self) -> None:
        """The device is unplugged: no new connections, and every current one closed."""
        self.gone.set()
        with contextlib.suppress(
            OSError
        ):  # shutdown wakes the thread blocked in accept(); close alone does not
            self.listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.listener.close()
        for conn in list(self.connections):
            conn.close()

    def stop(self) -> None:
        """End the stand-in, and the process group of every shell it started that has not ended.

        Only groups whose leader is not yet reaped: that pid, and so the group id, cannot have been
        reused by an unrelated process."""
        self.vanish()
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)

    def opened(self) -> list[str]:
        with self.log_lock:
            return [line[5:] for line in self.log if line.startswith("OPEN ")]


def _take_terminal() -> None:
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
