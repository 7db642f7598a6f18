"""SSH through the system OpenSSH client (`ssh`, `scp`), not a Python SSH library.

Why: the user's ~/.ssh/config, agent, keys, ProxyJump hosts and known_hosts already describe how
to reach their devices, and only OpenSSH reads all of them exactly as the user's own `ssh lab-pi4`
does; a library would need each of these re-implemented and configured twice. It also adds no
dependency. BatchMode=yes makes a missing key an error instead of a password prompt; host keys
are checked as the user configured (StrictHostKeyChecking is never turned off here). One master
connection per device (ControlMaster) makes each following command a cheap multiplexed session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgekit.devices.errors import DeviceConnectionError, DeviceError
from edgekit.devices.spec import DeviceSpec
from edgekit.devices.transport import Completed, Transport, run_client, tail

SSH_FAILED = 255  # ssh's own exit status for connection and authentication failures
CONFIG_ENV = "EDGEKIT_SSH_CONFIG"  # an ssh config file to use instead of ~/.ssh/config (ssh -F)
PERSIST_S = 120  # an idle master connection ends by itself, even if edgekit was killed


class SshTransport(Transport):
    def __init__(self, spec: DeviceSpec) -> None:
        super().__init__(spec)
        for tool in ("ssh", "scp"):
            if shutil.which(tool) is None:
                raise DeviceError(
                    f"the OpenSSH client ({tool}) is not installed on this host",
                    hint="install it: apt-get install openssh-client (Debian/Ubuntu)",
                )
        self._control_dir = tempfile.mkdtemp(prefix="edgekit-ssh-")  # short: a socket path has ~100 bytes
        self._master = False

    @property
    def destination(self) -> str:
        return f"{self.spec.user}@{self.spec.host}" if self.spec.user else str(self.spec.host)

    def _options(self) -> list[str]:
        config = self.spec.ssh_config or os.environ.get(CONFIG_ENV)
        opts = ["-F", config] if config else []
        opts += [
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=15",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            f"ControlPath={self._control_dir}/%C",
        ]
        return opts

    def connect(self, timeout_s: float = 30.0) -> None:
        argv = [
            "ssh",
            *self._options(),
            "-o",
            "ControlMaster=yes",
            "-o",
            f"ControlPersist={PERSIST_S}",
            "-f",
            "-N",
        ]
        argv += ["-p", str(self.spec.port)] if self.spec.port else []
        # The master stays in the background: its stderr goes to a file, since a pipe it keeps open
        # would never reach end-of-file.
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.run(
                    [*argv, self.destination],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    timeout=timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise DeviceConnectionError(
                    f"{self.spec.uri}: no SSH connection within {timeout_s:g} s"
                ) from None
            err.seek(0)
            message = tail(err.read().decode("utf-8", "replace"))
        if proc.returncode != 0:
            raise DeviceConnectionError(
                f"{self.spec.uri}: ssh could not connect: {message or f'exit {proc.returncode}'}",
                hint="check that `ssh " + self.destination + "` works without a password prompt "
                "(key in the agent or ~/.ssh/config, host key in known_hosts)",
            )
        self._master = True

    def run(self, command: str, timeout_s: float) -> Completed:
        argv = ["ssh", *self._options(), "-T"] + (["-p", str(self.spec.port)] if self.spec.port else [])
        done = run_client([*argv, self.destination, command], timeout_s, f"{self.spec.uri}: remote command")
        if done.returncode == SSH_FAILED:
            raise DeviceConnectionError(
                f"{self.spec.uri}: the SSH connection failed or dropped: "
                f"{tail(done.stderr) or 'ssh exited 255'}"
            )
        return done

    def push(self, local: Path, remote_dir: str, timeout_s: float) -> None:
        argv = ["scp", *self._options(), "-q", "-r"] + (["-P", str(self.spec.port)] if self.spec.port else [])
        done = run_client(
            [*argv, str(local), f"{self.destination}:{remote_dir}/"], timeout_s, f"{self.spec.uri}: scp"
        )
        if done.returncode != 0:
            raise DeviceConnectionError(
                f"{self.spec.uri}: copying {local.name} to {remote_dir} failed: "
                f"{tail(done.stderr) or f'scp exited {done.returncode}'}"
            )

    def close(self) -> None:
        if self._master:
            argv = ["ssh", *self._options(), "-O", "exit"] + (
                ["-p", str(self.spec.port)] if self.spec.port else []
            )
            try:
                run_client([*argv, self.destination], 10.0, "ssh -O exit")
            except DeviceError:
                pass  # the master ends by itself after ControlPersist
            self._master = False
        shutil.rmtree(self._control_dir, ignore_errors=True)
