"""A real OpenSSH server on 127.0.0.1 for the device tests, with keys made here.

Nothing of the system's SSH setup is read or changed: sshd runs with its own config file, host
key, authorized_keys and pid file in a temporary folder, and the client uses its own config
(-F, through EDGEKIT_SSH_CONFIG or devices.yaml) with its own key and known_hosts, so host keys
are really checked. Run as root, sshd needs its privilege-separation directory /run/sshd (an
empty runtime folder the Debian service creates at boot); it is created if missing.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = next(
    (
        p
        for p in (
            "/usr/lib/openssh/sftp-server",
            "/usr/libexec/openssh/sftp-server",
            "/usr/libexec/sftp-server",
        )
        if os.path.exists(p)
    ),
    "internal-sftp",
)


@dataclass
class SshServer:
    port: int
    folder: Path
    client_config: Path
    proc: subprocess.Popen
    user: str

    @property
    def uri(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def connection_pids(self) -> list[int]:
        """The sshd processes serving connections: children (and grandchildren) of the listener."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        out, todo = [], list(children.get(self.proc.pid, []))
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children.get(pid, [])
        return out

    def drop_connections(self) -> int:
        """Kill every sshd process serving a connection (the listener stays): a dropped network."""
        pids = [p for p in self.connection_pids() if _comm(p).startswith("sshd")]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, stdin=subprocess.DEVNULL
    )


def start_sshd(folder: Path) -> SshServer:
    folder.mkdir(parents=True, exist_ok=True)
    keygen(folder / "host_key")
    keygen(folder / "user_key")
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    port = free_port()
    (folder / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nHostKey {folder}/host_key\nPidFile {folder}/sshd.pid\n"
        f"AuthorizedKeysFile {folder}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
        f"Subsystem sftp {SFTP_SERVER}\nLogLevel ERROR\n"
    )
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {(folder / 'host_key.pub').read_text()}")
    client = folder / "ssh_config"
    client.write_text(
        f"Host *\n  IdentityFile {folder}/user_key\n  IdentitiesOnly yes\n  IdentityAgent none\n"
        f"  UserKnownHostsFile {folder}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
        f"  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = open(folder / "sshd.log", "wb")
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(folder / "sshd_config"), "-p", str(port)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    server = SshServer(port, folder, client, proc, getpass.getuser())
    _wait_listening(server)
    return server


def _wait_listening(server: SshServer, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"sshd exited {server.proc.returncode}: {(server.folder / 'sshd.log').read_text()}"
            )
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a socket that is not there yet; no event to wait on
    raise RuntimeError(f"sshd did not listen on {server.port} within {timeout_s} s")
