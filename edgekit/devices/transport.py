"""What every transport does: run a shell command on the device, push files, clean up.

Local client processes (ssh, scp, adb) run through `run_client`: stdout and stderr are read
concurrently (subprocess.communicate), so a command that writes megabytes to both never blocks
on a full pipe; a deadline kills the client's whole process group.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from edgekit.devices.errors import DeviceTimeoutError
from edgekit.devices.spec import DeviceSpec

TAIL = 2000  # characters of a client's stderr quoted in an error


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def tail(text: str) -> str:
    text = (text or "").strip()
    return text[-TAIL:]


def run_client(argv: list[str], timeout_s: float, what: str) -> Completed:
    """Run a local client to completion or kill it at the deadline (DeviceTimeoutError)."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )  # its own group: the deadline kills helpers it started too
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # Not communicate(): an ssh client multiplexed through a ControlMaster hands its pipes to
        # the master, which keeps them open until the remote command ends (never, for a hang).
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        raise DeviceTimeoutError(f"{what} ran past its {timeout_s:g} s deadline and was stopped") from None
    return Completed(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


class Transport(ABC):
    """One connection to one device. Commands are POSIX shell text run by the device's /bin/sh."""

    def __init__(self, spec: DeviceSpec) -> None:
        self.spec = spec

    @abstractmethod
    def connect(self, timeout_s: float) -> None:
        """Reach the device once (and keep the connection where the transport can); DeviceConnectionError if not."""

    @abstractmethod
    def run(self, command: str, timeout_s: float) -> Completed:
        """Run COMMAND on the device; the device's exit status; DeviceConnectionError on a lost connection."""

    @abstractmethod
    def push(self, local: Path, remote_dir: str, timeout_s: float) -> None:
        """Copy the local file or folder LOCAL into REMOTE_DIR (which exists) on the device."""

    def close(self) -> None:  # noqa: B027 - optional hook: transports without a session keep it empty
        """Release the connection."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_in_folder(self, folder: str, command: str, timeout_s: float) -> Completed:
        """Run COMMAND inside FOLDER with its process group recorded in FOLDER/.pid, so that a
        deadline can kill what it started on the device (`remove_folder(kill=True)`)."""
        # `$$` is the device shell that runs the whole line, also inside a subshell: the session
        # leader of the ssh or adb session, so its pid is the process group of all it starts.
        script = f"cd {shlex.quote(folder)} && echo $$ > .pid && exec sh -c {shlex.quote(command)}"
        return self.run(script, timeout_s)

    def remove_folder(self, folder: str, timeout_s: float = 30.0, kill: bool = False) -> None:
        """Remove a per-run folder; with KILL first end the process group recorded in its .pid.
        The remote shell of an ssh or adb session is a session leader, so its pid is its group."""
        q = shlex.quote(folder)
        script = f"rm -rf {q}"
        if kill:
            # `kill -9 -PGID` is the form dash, bash, busybox and toybox all accept
            script = (
                f'p=$(cat {q}/.pid 2>/dev/null); if [ -n "$p" ]; then kill -9 -$p 2>/dev/null; '
                f"kill -9 $p 2>/dev/null; fi; {script}"
            )
        self.run(script, timeout_s)
