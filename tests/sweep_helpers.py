"""Helpers the sweep tests send to worker processes (importable by module name, as Ray needs)."""

from __future__ import annotations

import os
from pathlib import Path


def die_once(marker: str, value: int) -> int:
    """Kill this worker process the first time it is called for `marker`; return `value` after."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died once", encoding="utf-8")
        os._exit(1)  # a worker that dies without a Python exception, as one killed for memory does
    return value * 2
