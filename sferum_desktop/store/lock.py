"""A lock file that lets one sync at a time work on a store (the service and the app alike).

Two syncs at once with the same accounts could each create the same Sferum chat; the lock is
an OS file lock (`flock` on POSIX, `msvcrt.locking` on Windows), so it is released by the
system when its holder dies, even by SIGKILL: a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger("sferum_desktop.store.lock")


class LockBusy(Exception):
    """Another sync holds the lock."""


class RunLock:
    """An exclusive, non-blocking file lock; `acquire(timeout)` polls until it gets it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _try(self, fd: int) -> bool:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                return False
            return True
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self, timeout: float = 0.0, poll: float = 0.2) -> None:
        """Take the lock, waiting up to `timeout` seconds; `LockBusy` when it stays taken."""
        if self._fd is not None:
            raise RuntimeError("the lock is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        deadline = time.monotonic() + timeout
        while not self._try(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockBusy(str(self.path))
            time.sleep(poll)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            try:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            except OSError:
                log.warning("could not unlock %s", self.path.name)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
