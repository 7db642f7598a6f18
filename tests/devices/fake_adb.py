"""A stand-in for the `adb` client and one attached device, following adb's documented behaviour
(https://developer.android.com/tools/adb): `-s SERIAL`, `get-state`, `devices`, `push`, `pull`,
`shell`. The "device" is this machine: shell commands run in /bin/sh in a new session (as adbd
starts them), device paths are local paths.

FAKE_ADB_SERIALS   attached serials, comma-separated (default emulator-5554)
FAKE_ADB_SHELL_V2  "1": shell v2 (separate stderr, the real exit status); otherwise the legacy
                   protocol: stderr mixed into stdout and exit status 0 whatever the command did
FAKE_ADB_STATE     a file: when it holds "offline" the device is gone (commands fail; a running
                   `shell` stops relaying and exits 1, leaving the device-side process running)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def offline() -> bool:
    state = os.environ.get("FAKE_ADB_STATE")
    return bool(state) and Path(state).is_file() and Path(state).read_text().strip() == "offline"


def _relay(src, dst) -> None:
    for block in iter(lambda: src.read1(65536), b""):
        dst.write(block)
        dst.flush()


def shell(argv: list[str]) -> int:
    """The device's process writes into pipes owned by this client (as adbd's socket is): when the
    device goes away the client stops, and the process on the device is left to itself."""
    v2 = os.environ.get("FAKE_ADB_SHELL_V2") == "1"
    proc = subprocess.Popen(
        ["/bin/sh", "-c", " ".join(argv)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if v2 else subprocess.STDOUT,
        start_new_session=True,
    )
    relays = [threading.Thread(target=_relay, args=(proc.stdout, sys.stdout.buffer), daemon=True)]
    if v2:
        relays.append(threading.Thread(target=_relay, args=(proc.stderr, sys.stderr.buffer), daemon=True))
    for t in relays:
        t.start()
    while True:
        try:
            code = proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            if offline():
                print("error: closed", file=sys.stderr, flush=True)
                os._exit(1)
    for t in relays:
        t.join()
    return code if v2 else 0


def push(argv: list[str]) -> int:
    *sources, dest = argv
    for src in map(Path, sources):
        if not src.exists():
            return fail(f"adb: error: cannot stat '{src}': No such file or directory")
        target = Path(dest) / src.name if dest.endswith("/") or Path(dest).is_dir() else Path(dest)
        if not target.parent.is_dir():
            return fail(
                f"adb: error: failed to copy '{src}' to '{target}': remote couldn't create file: No such file or directory"
            )
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)
        print(f"{src}: 1 file pushed, 0 skipped.")
    return 0


def pull(argv: list[str]) -> int:
    src, dest = Path(argv[0]), Path(argv[1] if len(argv) > 1 else ".")
    if not src.exists():
        return fail(f"adb: error: failed to stat remote object '{src}': No such file or directory")
    target = dest / src.name if dest.is_dir() else dest
    (shutil.copytree if src.is_dir() else shutil.copy2)(src, target)
    print(f"{src}: 1 file pulled, 0 skipped.")
    return 0


def main(argv: list[str]) -> int:
    serials = [s for s in os.environ.get("FAKE_ADB_SERIALS", "emulator-5554").split(",") if s]
    serial = None
    if argv[:1] == ["-s"]:
        serial, argv = argv[1], argv[2:]
    if not argv:
        return fail("adb: usage: no command specified")
    if argv[0] == "devices":
        print("List of devices attached")
        for s in serials:
            print(f"{s}\t{'offline' if offline() else 'device'}")
        return 0
    if serial is None and len(serials) != 1:
        return fail(
            "error: no devices/emulators found" if not serials else "error: more than one device/emulator"
        )
    if serial is not None and serial not in serials:
        return fail(f"error: device '{serial}' not found")
    if offline():
        return fail("error: device offline")
    command, rest = argv[0], argv[1:]
    if command == "get-state":
        print("device")
        return 0
    handlers = {"shell": shell, "push": push, "pull": pull}
    if command not in handlers:
        return fail(f"adb: unknown command {command}")
    return handlers[command](rest)


if __name__ == "__main__":
    sys.stdout.flush()
    sys.exit(main(sys.argv[1:]))
