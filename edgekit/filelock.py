"""An inter-process file lock, so N processes pulling one handle download it once.

POSIX: fcntl.flock on a lock file. The kernel drops the lock when its holder dies, so a lock
left by a killed process is recovered the moment anyone asks for it; the holder's pid is written
into the file so that we can say who held it (and that it died).

Elsewhere (no fcntl): an O_EXCL lock file holding "pid host". It is stale when its holder is a
dead process on this host, or when it is older than `stale_after_s` (we cannot probe pids
safely there); a stale file is moved aside atomically and the acquire retried.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from edgekit.errors import SourceError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (POSIX only)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FileLock:
    """`with FileLock(path):` — exclusive across processes; `recovered_from` names a dead holder."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout_s: float = 3600.0,
        poll_s: float = 0.05,
        backend: str | None = None,
        stale_after_s: float = 6 * 3600.0,
    ) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.backend = backend or ("flock" if fcntl is not None else "pidfile")
        self.stale_after_s = stale_after_s
        self.recovered_from: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self, blocking: bool = True) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.timeout_s
        try_once = self._try_flock if self.backend == "flock" else self._try_pidfile
        while True:
            if try_once():
                return True
            if not blocking:
                return False
            if time.monotonic() > deadline:
                raise SourceError(
                    f"timed out after {self.timeout_s:.0f}s waiting for the lock {self.path} (held by {self.holder() or 'unknown'})",
                    hint="another edgekit process is downloading the same model; if none is running, delete the lock file",
                )
            time.sleep(self.poll_s)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self.backend == "flock":
            # Empty the file before unlocking so the next holder sees no previous pid. The file
            # itself stays: unlinking a flock file lets two processes lock two different inodes.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        else:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def holder(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    # -- flock backend -------------------------------------------------------------------------

    def _try_flock(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        previous = os.read(fd, 256).decode(errors="replace").split()
        if previous and previous[0].isdigit() and int(previous[0]) != os.getpid():
            # A non-empty file means its writer never released: it died holding the lock.
            self.recovered_from = int(previous[0])
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {_HOST}\n".encode())
        self._fd = fd
        return True

    # -- pid-file backend ----------------------------------------------------------------------

    def _try_pidfile(self, retry: bool = True) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return self._break_if_stale() and retry and self._try_pidfile(retry=False)
        os.write(fd, f"{os.getpid()} {_HOST}\n".encode())
        self._fd = fd
        return True

    def _break_if_stale(self) -> bool:
        """Move a stale lock file aside; True if one was."""
        try:
            content = self.path.read_text().split()
            age = time.time() - self.path.stat().st_mtime
        except OSError:
            return False
        pid = int(content[0]) if content and content[0].isdigit() else -1
        host = content[1] if len(content) > 1 else ""
        dead = host == _HOST and os.name == "posix" and not pid_alive(pid)
        if not (dead or age > self.stale_after_s or (not content and age > 5.0)):
            return False
        # Move aside under a unique name, then check we moved the file we judged: if another
        # process replaced it meanwhile, put it back (os.link fails if the name is taken again).
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.replace(self.path, aside)
        except OSError:
            return False
        ours = aside.read_text().split() == content
        if ours:
            self.recovered_from = pid if pid > 0 else None
        else:
            with contextlib.suppress(OSError):
                os.link(aside, self.path)
        with contextlib.suppress(OSError):
            os.unlink(aside)
        return ours
