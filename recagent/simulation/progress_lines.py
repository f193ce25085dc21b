"""Progress for a run whose output is not a terminal (a batch job, `> run.log`): plain lines, one
every `every` steps or every `seconds`, whichever comes first, and the last step; each is flushed
so `tail -f` shows it as it happens (a progress bar draws nothing until the end there)."""

from __future__ import annotations

import time


class ProgressLines:
    def __init__(self, console, name: str, total: int, *, lines: int = 20, seconds: float = 10.0):
        self.console, self.name, self.total = console, name, total
        self.every = max(1, total // lines)  # about `lines` lines for the whole run
        self.seconds = seconds
        self.begun = self.last = time.monotonic()

    def update(self, step: int, counters: dict) -> None:
        now = time.monotonic()
        if step % self.every and step != self.total and now - self.last < self.seconds:
            return
        self.last = now
        self.console.print(f"{self.name}: step {step}/{self.total}  active {counters.get('active', 0)}  "
                           f"watches {counters.get('watch', 0)}  chats {counters.get('chat', 0)}  "
                           f"posts {counters.get('post', 0)}  {now - self.begun:.0f} s", highlight=False,
                           soft_wrap=True)
        self.console.file.flush()
