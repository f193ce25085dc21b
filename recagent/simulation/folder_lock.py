"""One writer per run folder: an advisory lock (`filelock`, flock on `run.lock`) held from the moment
a session creates or resumes the folder until it writes its closing files or its process ends.

A second process gets one line naming the holder's PID (written into the lock file once it is
held). Within one process the latest session of a folder takes the lock over from the earlier one
(a notebook that resumes the run it just stepped), and the earlier one can no longer step.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import UserError

LOCK_FILE = "run.lock"


class FolderLock:
    """The lock of one folder, held by this process; `owner` is the session that may write."""

    held: dict[str, FolderLock] = {}  # this process's locks by resolved folder

    def __init__(self, folder: Path, lock: FileLock, previous: bytes | None):
        self.folder, self.lock, self.previous = folder, lock, previous  # previous: the file before, None: new
        self._owner: weakref.ref | None = None

    @classmethod
    def take(cls, folder: Path, what: str = "run folder") -> FolderLock:
        key = str(folder.resolve())
        mine = cls.held.get(key)
        if mine is not None and mine.lock.is_locked:
            return mine  # this process holds it already; the caller becomes its owner
        path = folder / LOCK_FILE
        existed = path.exists()
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise UserError(f"{what} {folder} is in use by another recagent process (pid {holder_pid(path)}); "
                            "wait for it to end, or stop it") from None
        except OSError as error:
            raise UserError(f"cannot lock {what} {folder} ({error.strerror or error}); it must be a writable "
                            "folder") from None
        previous = path.read_bytes() if existed else None
        with open(path, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        taken = cls(folder, lock, previous)
        cls.held[key] = taken
        return taken

    @property
    def owner(self):
        return self._owner() if self._owner is not None else None

    @owner.setter
    def owner(self, session) -> None:
        self._owner = weakref.ref(session)

    def release(self, *, undo: bool = False) -> None:
        """Let the folder go; `undo`: a refused resume puts the lock file back as it was (or removes
        the one it created), so the folder is byte-for-byte what it was."""
        self.held.pop(str(self.folder.resolve()), None)
        path = self.folder / LOCK_FILE
        if undo and self.previous is None:
            path.unlink(missing_ok=True)
        elif undo:
            path.write_bytes(self.previous)
        self.lock.release(force=True)


def holder_pid(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return text if text.isdigit() else "unknown"
