"""Garbage collection during an LLM wave sees only the objects the wave made.

A wave of thousands of calls allocates many short-lived containers (requests, responses, parsed
replies); those still alive when a young collection runs (calls in flight, replies kept until the
wave ends) are promoted, and in time a full collection scans every object of the process: the
whole simulation, millions of objects in a large world. `gc.freeze()` sets the objects that
existed before the wave aside for its duration and `gc.unfreeze()` gives them back to the oldest
generation after it: nothing is leaked, cycles made during the wave are still collected, and the
world, which the wave does not touch, is not scanned during it. Measured at 5,000 calls on the
loaded 2-core machine: 0.38-0.42 ms of client CPU per call with the whole heap collected (with or
without 2 million extra objects), 0.33-0.36 ms with it set aside, 0.29-0.30 ms with the collector
off. Waves running at once from several threads share one freeze: the last to end unfreezes.
The price: young objects that existed before the wave come back in the oldest generation, so
garbage among them waits for a full collection instead of a young one.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_waves = 0


@contextmanager
def older_objects_set_aside():
    global _waves
    with _lock:
        if _waves == 0:
            gc.freeze()
        _waves += 1
    try:
        yield
    finally:
        with _lock:
            _waves -= 1
            if _waves == 0:
                gc.unfreeze()
