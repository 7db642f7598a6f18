"""ADB through the `adb` client (Debian's `adb` package, or Android platform-tools).

`adb shell` reports the command's exit status only when both ends speak the shell v2 protocol;
without it (older adbd, some adb servers) it exits 0 whatever happened, and stdout and stderr
arrive as one stream. Even with shell v2, a device that goes away mid-command makes `adb shell`
(Debian's 29.0.6) exit 0 with nothing on stderr. So every command is run as
`( COMMAND ); printf '\\n__EDGEKIT_RC=%s\\n' $?` and the status is read from that last line, which
also tells a finished command from a dropped device: no marker means the connection ended before
the command did, whatever adb's own exit status.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from edgekit.devices.errors import DeviceConnectionError, DeviceError
from edgekit.devices.spec import DeviceSpec
from edgekit.devices.transport import Completed, Transport, run_client, tail

MARKER = "__EDGEKIT_RC="
_STATUS = re.compile(r"\r?\n" + MARKER + r"(\d+)\r?\n?$")


def split_status(stdout: str) -> tuple[str, int] | None:
    """(output without the marker, exit status), or None when the marker never came."""
    m = _STATUS.search(stdout)
    return (stdout[: m.start()], int(m.group(1))) if m else None


class AdbTransport(Transport):
    def __init__(self, spec: DeviceSpec) -> None:
        super().__init__(spec)
        if shutil.which("adb") is None:
            raise DeviceError(
                "the adb client is not installed on this host",
                hint="install it: apt-get install adb (Debian/Ubuntu), or Android platform-tools",
            )

    def _adb(self) -> list[str]:
        return ["adb", "-s", self.spec.serial] if self.spec.serial else ["adb"]

    def connect(self, timeout_s: float = 30.0) -> None:
        done = run_client([*self._adb(), "get-state"], timeout_s, f"{self.spec.uri}: adb get-state")
        if done.returncode != 0 or done.stdout.strip() != "device":
            raise DeviceConnectionError(
                f"{self.spec.uri}: the device is not ready: "
                f"{tail(done.stderr) or done.stdout.strip() or f'adb exited {done.returncode}'}",
                hint="check `adb devices`: the device must be listed as 'device' (USB debugging authorized)",
            )

    def run(self, command: str, timeout_s: float) -> Completed:
        wrapped = f"( {command} ); printf '\\n{MARKER}%s\\n' $?"
        done = run_client([*self._adb(), "shell", wrapped], timeout_s, f"{self.spec.uri}: remote command")
        found = split_status(done.stdout)
        if found is None:
            reason = tail(done.stderr)
            if reason and not done.stdout:  # adb could not start it: offline, unauthorized, not found
                what = f"adb could not run the command on the device: {reason}"
            else:  # adb prints nothing when the transport drops mid-command; the output is no reason
                what = "the adb connection ended before the command did: " + (
                    reason
                    or f"adb exited {done.returncode} and no exit status came from the device "
                    "(unplugged, adbd restarted, or the network dropped)"
                )
            raise DeviceConnectionError(
                f"{self.spec.uri}: {what}", hint="check `adb devices`: the device must be listed as 'device'"
            )
        stdout, status = found
        return Completed(status, stdout, done.stderr)

    def push(self, local: Path, remote_dir: str, timeout_s: float) -> None:
        done = run_client(
            [*self._adb(), "push", str(local), f"{remote_dir}/"], timeout_s, f"{self.spec.uri}: adb push"
        )
        if done.returncode != 0:
            raise DeviceConnectionError(
                f"{self.spec.uri}: adb push of {local.name} to {remote_dir} failed: "
                f"{tail(done.stderr) or tail(done.stdout) or f'adb exited {done.returncode}'}"
            )
