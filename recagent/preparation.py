"""What the console says while a feedback model prepares itself for a new catalog.

The first run on a catalog distils item keywords and trains the ensemble's base models: tens of
seconds to minutes, once, cached in $RECAGENT_CACHE. Without a word that looks like a hang, so the
model's `progress(stage, fraction)` callback drives a `PreparationProgress`: its first call prints

    preparing the user simulator for this catalog (one time, ~15 s; cached in ~/.cache/recagent)

then a progress bar with the current stage, and at the end how long it took. A cache hit never
calls back, so a prepared catalog prints nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

# Measured on the 2-core development machine (README, Feedback models): distilling keywords costs
# about 35 ms per item (ML-100K, 1,682 items: 58 s), the base models about 0.27 ms per rating
# (100,000 ratings: 27 s), plus about 10 s of loading torch and the embedding model and training SASRec
# on even a tiny catalog (a 40-item synthetic catalog took 29 s on the busy machine).
SECONDS_FIXED, SECONDS_PER_ITEM, SECONDS_PER_RATING = 10.0, 0.035, 0.00027


def estimated_seconds(n_items: int, n_ratings: int) -> int:
    """A rough duration of the ensemble's preparation, rounded to 5 s (at least 5).

    The base models are fitted on at most the default fit sample's ratings (recagent/feedback/sample.py)."""
    from .feedback.sample import MAX_INTERACTIONS

    seconds = SECONDS_FIXED + SECONDS_PER_ITEM * n_items + SECONDS_PER_RATING * min(n_ratings, MAX_INTERACTIONS)
    return max(5, int(round(seconds / 5.0)) * 5)


def _short(path: Path | None) -> str:
    if path is None:
        return ""
    home = Path.home()
    try:
        return "~/" + str(Path(path).resolve().relative_to(home.resolve()))
    except ValueError:
        return str(path)


class PreparationProgress:
    """A `progress(stage, fraction)` callback that tells the console about a one-time preparation.

    `bar=False` (the CLI's --quiet) keeps the two lines and leaves out the bar, as does output that
    is not a terminal.
    """

    def __init__(self, console: Console, what: str = "the user simulator for this catalog",
                 estimate_s: int | None = None, cache_dir: Path | None = None, bar: bool = True):
        self.console, self.what, self.estimate_s, self.cache_dir, self.bar = console, what, estimate_s, cache_dir, bar
        self.started: float | None = None
        self.finished = False
        self._progress: Progress | None = None
        self._task = None

    def __call__(self, stage: str, fraction: float) -> None:
        if self.finished:
            return
        if self.started is None:
            self._start()
        if self._progress is not None:
            self._progress.update(self._task, completed=max(0.0, min(1.0, fraction)), description=stage)
        if fraction >= 1.0:
            self.close()

    def _start(self) -> None:
        self.started = time.perf_counter()
        details = ["one time"]
        if self.estimate_s:
            details[0] += f", ~{self.estimate_s} s"
        if self.cache_dir is not None:
            details.append(f"cached in {_short(self.cache_dir)}")
        self.console.print(f"preparing {self.what} ({'; '.join(details)})", highlight=False, soft_wrap=True)
        if self.bar and self.console.is_terminal:  # a log file gets the two lines, not a redrawn bar
            self._progress = Progress(TextColumn("  {task.description:<48}"), BarColumn(), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._task = self._progress.add_task("starting", total=1.0)
            self._progress.start()

    def close(self) -> None:
        """Stop the bar and say how long it took; a no-op when nothing was prepared."""
        if self.started is None or self.finished:
            return
        self.finished = True
        if self._progress is not None:
            self._progress.stop()
        self.console.print(f"prepared {self.what} in {time.perf_counter() - self.started:.0f} s", highlight=False, soft_wrap=True)
