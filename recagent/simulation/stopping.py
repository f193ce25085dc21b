"""Stopping a run cleanly: SIGTERM and SIGINT end it at the next step boundary, and a full disk
ends it as `failed` with the reason.

While a session runs its steps on the main thread, the first SIGTERM or SIGINT is noted, not
acted on: the step in progress finishes and is written, a checkpoint is written where
checkpointing is on, run.json says `interrupted`, and `RunStopped` (a KeyboardInterrupt, so code
that already stops on Ctrl-C stops on it) carries the exit code 128 + signal (143, 130). A second
signal stops at once (the step in progress is dropped, as after a kill).
"""

from __future__ import annotations

import errno
import signal
import sqlite3
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunStopped(KeyboardInterrupt):
    """The run was stopped by a signal at a step boundary; its folder is closed as `interrupted`."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum, self.message = signum, message

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class HandledSignals:
    """Within `with` on the main thread, SIGTERM and SIGINT go to `handle`; the previous handlers come
    back on exit. Outside the main thread signals cannot be caught and nothing changes."""

    def __init__(self):
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def handle(self, signum, frame) -> None:
        raise NotImplementedError

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self.previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()


class StopRequests(HandledSignals):
    """SIGTERM/SIGINT set `signum` (the run stops after its step); a second one raises KeyboardInterrupt."""

    def handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: stop now
        self.signum = signum


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC or a quota, from a file write or from SQLite (which says so only in words)."""
    if isinstance(error, sqlite3.OperationalError):
        return "disk is full" in str(error) or "disk I/O error" in str(error)
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


class SignalsInterrupt(HandledSignals):
    """SIGTERM, like SIGINT, raises KeyboardInterrupt, and `signum` says which came (for a main thread
    that waits while a run steps on another thread, as role-play does: the run's thread is told to stop
    and closes its folder as interrupted)."""

    def handle(self, signum, frame) -> None:
        self.signum = signum
        raise KeyboardInterrupt
